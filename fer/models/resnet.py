"""ResNet50 transfer models: ``resnet50`` and ``resnet50_cbam``.

Both take raw ``[0, 255]`` pixels, repeat grayscale to RGB (``gray_to_rgb``) and apply
``keras.applications.resnet50.preprocess_input`` ("caffe": RGB→BGR, minus the ImageNet BGR mean)
inside the model as the weightless layer :class:`fer.layers.CaffePreprocess` (``caffe_preprocess``).

``resnet50`` builds ``keras.applications.ResNet50`` on that tensor (flat graph). ``resnet50_cbam``
needs CBAM blocks *inside* the graph, after the outputs of stages conv2..conv5, which cannot be spliced
into an already built functional graph; so it rebuilds ResNet50 here layer for layer with the exact
``keras.applications`` layer types, settings and names (``conv1_conv``, ``conv2_block1_0_conv`` ...
``conv5_block3_out``; tested to give the same outputs with the same weights) and inserts
``conv{2..5}_cbam`` after each stage. ImageNet weights are copied into it by layer name from a
``keras.applications.ResNet50`` built for the purpose. Everything is standard Keras layers plus
registered ``fer.layers``, so both save and reload as ``.keras`` files.
"""

from __future__ import annotations

import keras
from keras import layers

from fer.layers import CBAM, CaffePreprocess
from fer.models.blocks import input_stem, load_weights_file
from fer.models.registry import register
from fer.models.transfer import (
    check_trainable_layers,
    copy_weights_by_name,
    find_backbone,
    set_trainable_layers,
    split_weights,
)

#: (stage name, bottleneck filters, blocks, first stride) of ResNet50, as in ``keras.applications``.
RESNET50_STAGES: tuple[tuple[str, int, int, int], ...] = (
    ("conv2", 64, 3, 1), ("conv3", 128, 4, 2), ("conv4", 256, 6, 2), ("conv5", 512, 3, 2),
)
_BN_EPS = 1.001e-5


def _stem(input_shape, name: str):
    inputs, x = input_stem(input_shape, channels=3, scale=None)
    return inputs, CaffePreprocess(name="caffe_preprocess")(x)


def _head(x, num_classes: int, dropout: float):
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return layers.Activation("softmax", dtype="float32", name="predictions")(x)


@register("resnet50", (224, 224, 3), default_lr=1e-4)
def build_resnet50(input_shape: tuple[int, int, int] = (224, 224, 3), num_classes: int = 7,
                   weights: str | None = None, trainable_layers: int | None = None,
                   dropout: float = 0.3) -> keras.Model:
    """ResNet50 backbone (``keras.applications``) → global average pooling → dropout → Dense → softmax.

    Args:
        input_shape: ``(H, W, C)``, default ``(224, 224, 3)``; grayscale is repeated to RGB inside
            the model; H and W ≥ 32.
        num_classes: number of output classes.
        weights: ``None`` (random), ``"imagenet"`` (downloads the ``keras.applications`` no-top
            weights; needs internet) or a path to a ``.weights.h5`` file of this whole model.
        trainable_layers: ``None`` keeps every backbone layer trainable; ``N`` freezes the backbone
            except its last ``N`` layers, BatchNorm layers always frozen (see
            :func:`fer.models.transfer.set_trainable_layers`). The head is always trainable.
        dropout: dropout before the classifier.

    Returns:
        An uncompiled ``keras.Model`` taking pixels in ``[0, 255]``; 23,602,055 parameters at the
        defaults with 7 classes.

    References:
        He et al., "Deep Residual Learning for Image Recognition", CVPR 2016; backbone from
        ``keras.applications.ResNet50``.
    """
    check_trainable_layers(trainable_layers)
    app_weights, local_file = split_weights(weights)
    inputs, x = _stem(input_shape, "resnet50")
    backbone = keras.applications.ResNet50(include_top=False, weights=app_weights, input_tensor=x,
                                           input_shape=(input_shape[0], input_shape[1], 3))
    model = keras.Model(inputs, _head(backbone.output, num_classes, dropout), name="resnet50")
    set_trainable_layers(find_backbone(model), trainable_layers)
    load_weights_file(model, local_file)
    return model


def _bottleneck(x, filters: int, stride: int, conv_shortcut: bool, name: str):
    """``keras.applications`` ``residual_block_v1`` with the same layers and names."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=3, epsilon=_BN_EPS, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPS, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="SAME", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPS, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPS, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


@register("resnet50_cbam", (224, 224, 3), default_lr=1e-4)
def build_resnet50_cbam(input_shape: tuple[int, int, int] = (224, 224, 3), num_classes: int = 7,
                        weights: str | None = None, trainable_layers: int | None = None,
                        dropout: float = 0.3, ratio: int = 8, kernel_size: int = 7,
                        cbam_stages: tuple[str, ...] = ("conv2", "conv3", "conv4", "conv5")) -> keras.Model:
    """ResNet50 with a CBAM block after each of its four stages → GAP → dropout → Dense → softmax.

    The ResNet50 graph is rebuilt with the ``keras.applications`` layer names (see the module
    docstring); ``conv{s}_cbam`` follows ``conv{s}_block{last}_out`` for every stage in
    ``cbam_stages`` and feeds the next stage. At 224x224 the CBAM blocks see 56×56×256,
    28×28×512, 14×14×1024 and 7×7×2048 features.

    Args:
        input_shape: ``(H, W, C)``, default ``(224, 224, 3)``; grayscale is repeated to RGB inside
            the model; H and W ≥ 32.
        num_classes: number of output classes.
        weights: ``None``, ``"imagenet"`` (needs internet; the ResNet50 weights are copied by layer
            name, CBAM blocks start random) or a path to a ``.weights.h5`` file of this whole model.
        trainable_layers: ``None`` keeps every layer trainable; ``N`` freezes the ResNet50 layers
            except the last ``N`` (BatchNorm always frozen); CBAM blocks and head stay trainable.
        dropout: dropout before the classifier.
        ratio / kernel_size: CBAM channel reduction ratio and spatial kernel size.
        cbam_stages: stages followed by CBAM; ``()`` gives a plain ResNet50 with this graph.

    Returns:
        An uncompiled ``keras.Model`` taking pixels in ``[0, 255]``; 24,999,407 parameters at the
        defaults with 7 classes.

    References:
        He et al., "Deep Residual Learning for Image Recognition", CVPR 2016; Woo et al., "CBAM:
        Convolutional Block Attention Module", ECCV 2018 (CBAM in ResNet50).
    """
    known = [s[0] for s in RESNET50_STAGES]
    if any(stage not in known for stage in cbam_stages):
        raise ValueError(f"cbam_stages must be a subset of {known}, got {tuple(cbam_stages)}")
    check_trainable_layers(trainable_layers)
    app_weights, local_file = split_weights(weights)
    inputs, stem = _stem(input_shape, "resnet50_cbam")
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(stem)
    x = layers.Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPS, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stage, filters, blocks, stride in RESNET50_STAGES:
        for b in range(1, blocks + 1):
            x = _bottleneck(x, filters, stride if b == 1 else 1, b == 1, f"{stage}_block{b}")
        if stage in cbam_stages:
            x = CBAM(ratio, kernel_size, name=f"{stage}_cbam")(x)
    model = keras.Model(inputs, _head(x, num_classes, dropout), name="resnet50_cbam")
    set_trainable_layers(find_backbone(model), trainable_layers)  # the CBAM blocks stay trainable
    if app_weights == "imagenet":
        template = keras.applications.ResNet50(include_top=False, weights="imagenet",
                                               input_shape=(input_shape[0], input_shape[1], 3))
        copy_weights_by_name(template, model)
    load_weights_file(model, local_file)
    return model
