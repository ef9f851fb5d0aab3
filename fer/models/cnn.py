"""Plain CNNs from the course: ``baseline_cnn``, ``simple_cnn`` and ``cnn_spatial_attention``.

Layer names: block ``i`` holds ``block{i}_conv{j}`` / ``block{i}_bn{j}`` / ``block{i}_relu{j}`` and ends
with a layer named ``block{i}_out``; the classifier is ``fc{k}_*`` → ``logits`` → ``predictions``.
"""

from __future__ import annotations

import keras
from keras import layers

from fer.layers import SpatialAttention
from fer.models.blocks import input_stem, load_weights_file
from fer.models.registry import register


def _softmax_head(x, num_classes: int):
    x = layers.Dense(num_classes, name="logits")(x)
    return layers.Activation("softmax", dtype="float32", name="predictions")(x)


@register("baseline_cnn", (48, 48, 1))
def build_baseline_cnn(input_shape: tuple[int, int, int] = (48, 48, 1), num_classes: int = 7,
                       weights: str | None = None, conv_dropout: float = 0.25,
                       dense_dropout: float = 0.5, bn_momentum: float = 0.9) -> keras.Model:
    """The FER2013 baseline: four convolutional blocks and a two-layer fully connected head.

    Blocks of 3x3 convolutions (same padding, each followed by BatchNorm and ReLU): 32×2, 64×2,
    128×2 and 256×1, each block closed by 2x2 max pooling and dropout; then Flatten → Dense 512
    → BN → ReLU → dropout → Dense 256 → BN → ReLU → dropout → Dense(num_classes) → softmax.
    Convolutions and dense layers before a BatchNorm have no bias (the BN shift replaces it).
    At 48x48 the blocks end at 24, 12, 6 and 3 pixels.

    Args:
        input_shape: ``(H, W, C)``, default ``(48, 48, 1)``; RGB accepted. H and W should be ≥ 16.
        num_classes: number of output classes.
        weights: ``None`` or a path to a ``.weights.h5`` file of the same architecture.
        conv_dropout: dropout closing each convolutional block.
        dense_dropout: dropout after each hidden dense layer.
        bn_momentum: momentum of the BatchNorm moving averages used at inference. 0.9 (PyTorch's
            default) lets them catch up within a few hundred steps; with Keras' 0.99 a short run (a
            few epochs on a small set) still carries the initial statistics and predicts one class.

    Returns:
        An uncompiled ``keras.Model`` taking pixels in ``[0, 255]``; 1,899,303 parameters at the
        defaults with 7 classes.

    References:
        The course's FER2013 baseline CNN (the common Kaggle FER2013 "deep CNN" recipe).
    """
    inputs, x = input_stem(input_shape)
    for b, (filters, convs) in enumerate(((32, 2), (64, 2), (128, 2), (256, 1)), start=1):
        for c in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{b}_conv{c}")(x)
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"block{b}_bn{c}")(x)
            x = layers.ReLU(name=f"block{b}_relu{c}")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
        x = layers.Dropout(conv_dropout, name=f"block{b}_out")(x)
    x = layers.Flatten(name="flatten")(x)
    for k, units in enumerate((512, 256), start=1):
        x = layers.Dense(units, use_bias=False, name=f"fc{k}_dense")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"fc{k}_bn")(x)
        x = layers.ReLU(name=f"fc{k}_relu")(x)
        x = layers.Dropout(dense_dropout, name=f"fc{k}_dropout")(x)
    model = keras.Model(inputs, _softmax_head(x, num_classes), name="baseline_cnn")
    load_weights_file(model, weights)
    return model


def _simple_cnn(name: str, input_shape, num_classes: int, weights, filters, dense_units: int,
                dropout: float, spatial_kernel: int | None) -> keras.Model:
    inputs, x = input_stem(input_shape)
    for b, f in enumerate(filters, start=1):
        x = layers.Conv2D(f, 3, padding="same", name=f"block{b}_conv1")(x)
        x = layers.ReLU(name=f"block{b}_relu1")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_out")(x)
    if spatial_kernel is not None:
        x = SpatialAttention(spatial_kernel, name="spatial_attention")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="fc1_dense")(x)
    x = layers.Dropout(dropout, name="fc1_dropout")(x)
    model = keras.Model(inputs, _softmax_head(x, num_classes), name=name)
    load_weights_file(model, weights)
    return model


@register("simple_cnn", (128, 128, 3))
def build_simple_cnn(input_shape: tuple[int, int, int] = (128, 128, 3), num_classes: int = 7,
                     weights: str | None = None, filters: tuple[int, ...] = (32, 64, 128),
                     dense_units: int = 512, dropout: float = 0.5) -> keras.Model:
    """The course's first model: three conv blocks and a fully connected head.

    Each block is a 3x3 convolution (same padding, ReLU) and 2x2 max pooling (``block{i}_out``);
    then Flatten → Dense 512 (ReLU) → dropout → Dense(num_classes) → softmax. At 128x128 the
    flattened feature map is 16×16×128, which is why the head holds most of the parameters.

    Args:
        input_shape: ``(H, W, C)``, default ``(128, 128, 3)``; grayscale accepted.
        num_classes: number of output classes.
        weights: ``None`` or a path to a ``.weights.h5`` file of the same architecture.
        filters: filters of each convolutional block.
        dense_units: width of the hidden dense layer.
        dropout: dropout before the classifier.

    Returns:
        An uncompiled ``keras.Model`` taking pixels in ``[0, 255]``; 16,874,567 parameters at the
        defaults with 7 classes.

    References:
        The course's introductory Keras CNN (conv/relu/max-pool ×3 + dense head).
    """
    return _simple_cnn("simple_cnn", input_shape, num_classes, weights, filters, dense_units, dropout, None)


@register("cnn_spatial_attention", (128, 128, 3))
def build_cnn_spatial_attention(input_shape: tuple[int, int, int] = (128, 128, 3), num_classes: int = 7,
                                weights: str | None = None, filters: tuple[int, ...] = (32, 64, 128),
                                dense_units: int = 512, dropout: float = 0.5,
                                kernel_size: int = 7) -> keras.Model:
    """:func:`build_simple_cnn` with a :class:`~fer.layers.SpatialAttention` after the last conv block.

    The attention layer (``spatial_attention``) reweights the last block's output pixel by pixel
    before the head; read its map with :func:`fer.layers.attention_maps`.

    Args:
        input_shape: ``(H, W, C)``, default ``(128, 128, 3)``; grayscale accepted.
        num_classes: number of output classes.
        weights: ``None`` or a path to a ``.weights.h5`` file of the same architecture.
        filters: filters of each convolutional block.
        dense_units: width of the hidden dense layer.
        dropout: dropout before the classifier.
        kernel_size: kernel of the spatial-attention convolution.

    Returns:
        An uncompiled ``keras.Model`` taking pixels in ``[0, 255]``; 16,874,665 parameters at the
        defaults with 7 classes.

    References:
        The course's simple CNN; spatial attention from Woo et al., "CBAM: Convolutional Block
        Attention Module", ECCV 2018.
    """
    return _simple_cnn("cnn_spatial_attention", input_shape, num_classes, weights, filters, dense_units,
                       dropout, kernel_size)
