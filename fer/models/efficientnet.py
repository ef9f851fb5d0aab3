"""EfficientNet transfer models: ``efficientnet_b3`` and ``efficientnet_b0``.

The ``keras.applications`` backbone is built on the model's input (flat graph, see
:mod:`fer.models.transfer`). EfficientNet rescales internally, so the stem passes raw ``[0, 255]``
pixels through and only repeats grayscale to 3 channels (layer ``gray_to_rgb``).

Note: with ``weights="imagenet"`` ``keras.applications`` inserts one extra weightless ``Rescaling``
(ImageNet standard deviations) after its ``Normalization`` layer, so build with the same
``weights`` setting when loading a weights file saved from such a model (or use ``.keras`` files).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers, regularizers

from fer.models.blocks import input_stem, load_weights_file
from fer.models.registry import register
from fer.models.transfer import check_trainable_layers, find_backbone, set_trainable_layers, split_weights


def _efficientnet(application: Callable[..., keras.Model], name: str, input_shape, weights,
                  trainable_layers: int | None, head: Callable) -> keras.Model:
    check_trainable_layers(trainable_layers)
    app_weights, local_file = split_weights(weights)
    inputs, x = input_stem(input_shape, channels=3, scale=None)
    backbone = application(include_top=False, weights=app_weights, input_tensor=x,
                           input_shape=(input_shape[0], input_shape[1], 3))
    model = keras.Model(inputs, head(backbone.output), name=name)
    set_trainable_layers(find_backbone(model), trainable_layers)
    load_weights_file(model, local_file)
    return model


@register("efficientnet_b3", (224, 224, 3), default_lr=1e-3)
def build_efficientnet_b3(input_shape: tuple[int, int, int] = (224, 224, 3), num_classes: int = 7,
                          weights: str | None = None, trainable_layers: int | None = None,
                          dropout: float = 0.3, l2: float = 1e-3) -> keras.Model:
    """EfficientNet-B3 backbone → global average pooling → dropout → L2-regularised Dense → softmax.

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
        l2: L2 factor on the classifier kernel.

    Returns:
        An uncompiled ``keras.Model`` taking pixels in ``[0, 255]``; 10,794,294 parameters at the
        defaults with 7 classes.

    References:
        Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
        ICML 2019; backbone from ``keras.applications.EfficientNetB3``.
    """

    def head(x):
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(dropout, name="head_dropout")(x)
        x = layers.Dense(num_classes, kernel_regularizer=regularizers.L2(l2), name="logits")(x)
        return layers.Activation("softmax", dtype="float32", name="predictions")(x)

    return _efficientnet(keras.applications.EfficientNetB3, "efficientnet_b3", input_shape, weights,
                         trainable_layers, head)


@register("efficientnet_b0", (224, 224, 3), default_lr=1e-3)
def build_efficientnet_b0(input_shape: tuple[int, int, int] = (224, 224, 3), num_classes: int = 7,
                          weights: str | None = None, trainable_layers: int | None = None,
                          dense_units: int = 512, dropout: float = 0.5) -> keras.Model:
    """EfficientNet-B0 backbone → global average pooling → Dense 512 (ReLU) → dropout → Dense → softmax.

    Args:
        input_shape: ``(H, W, C)``, default ``(224, 224, 3)``; grayscale is repeated to RGB inside
            the model; H and W ≥ 32.
        num_classes: number of output classes.
        weights: ``None``, ``"imagenet"`` (needs internet) or a path to a ``.weights.h5`` file of
            this whole model.
        trainable_layers: ``None`` keeps every backbone layer trainable; ``N`` freezes the backbone
            except its last ``N`` layers, BatchNorm layers always frozen.
        dense_units: width of the hidden dense layer ``fc1_dense``.
        dropout: dropout before the classifier.

    Returns:
        An uncompiled ``keras.Model`` taking pixels in ``[0, 255]``; 4,709,034 parameters at the
        defaults with 7 classes.

    References:
        Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
        ICML 2019; backbone from ``keras.applications.EfficientNetB0``.
    """

    def head(x):
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(dense_units, activation="relu", name="fc1_dense")(x)
        x = layers.Dropout(dropout, name="head_dropout")(x)
        x = layers.Dense(num_classes, name="logits")(x)
        return layers.Activation("softmax", dtype="float32", name="predictions")(x)

    return _efficientnet(keras.applications.EfficientNetB0, "efficientnet_b0", input_shape, weights,
                         trainable_layers, head)
