"""``fer_resnet``: the compact residual CNN behind the shipped default model."""

from __future__ import annotations

import keras
from keras import layers

from fer.models.blocks import input_stem, load_weights_file
from fer.models.registry import register


def _conv_bn_relu(x, filters: int, strides: int, name: str):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _residual(x, filters: int, strides: int, name: str):
    shortcut = x
    y = _conv_bn_relu(x, filters, strides, f"{name}_a")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
    y = layers.BatchNormalization(name=f"{name}_b_bn")(y)
    if strides != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_proj_conv")(shortcut)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


@register("fer_resnet", (48, 48, 1))
def build_fer_resnet(input_shape: tuple[int, int, int] = (48, 48, 1), num_classes: int = 7,
                     weights: str | None = None, widths: tuple[int, ...] = (64, 128, 256, 320),
                     depths: tuple[int, ...] = (1, 2, 2, 1), dropout: float = 0.3) -> keras.Model:
    """A ResNet-18-style CNN that spends its compute at low resolution.

    One 3x3 convolution (32) sees the full-resolution face; a strided 3x3 convolution then halves
    the resolution before the residual stages (widths 64/128/256/320, each stage after the first
    halving it again). At 48x48 the stages run at 24, 12, 6 and 3 pixels, which is what makes it
    train at a few hundred faces per second on a laptop CPU.

    Args:
        input_shape: ``(H, W, C)``, default ``(48, 48, 1)``; RGB input is accepted as well.
        num_classes: number of output classes.
        weights: ``None`` or a path to a ``.weights.h5`` file of the same architecture.
        widths: filters of each residual stage.
        depths: residual blocks per stage.
        dropout: dropout before the classifier.

    Returns:
        An uncompiled ``keras.Model`` taking pixels in ``[0, 255]``; 4,469,351 parameters at the
        defaults with 7 classes.

    References:
        He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
    """
    inputs, x = input_stem(input_shape)
    x = residual_trunk(x, widths, depths)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="fer_resnet")
    load_weights_file(model, weights)
    return model


def residual_trunk(x, widths: tuple[int, ...], depths: tuple[int, ...], prefix: str = ""):
    """fer_resnet's feature extractor: two stem convolutions, the residual stages, global average pooling.

    ``prefix`` goes before every layer name (``""`` gives fer_resnet's own names, which its saved weights use;
    the fusion model's image branch uses ``"image_"``)."""
    x = _conv_bn_relu(x, 32, 1, f"{prefix}stem1")
    x = _conv_bn_relu(x, widths[0], 2, f"{prefix}stem2")
    for s, (filters, depth) in enumerate(zip(widths, depths), start=1):
        for b in range(depth):
            x = _residual(x, filters, 2 if (b == 0 and s > 1) else 1, f"{prefix}stage{s}_block{b + 1}")
    return layers.GlobalAveragePooling2D(name=f"{prefix}avg_pool")(x)

