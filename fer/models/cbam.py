"""``cbam_5cnn``: a VGG-style five-block CNN with a CBAM module closing every block."""

from __future__ import annotations

import keras
from keras import layers

from fer.layers import CBAM
from fer.models.blocks import input_stem, load_weights_file
from fer.models.registry import register

#: (filters, convolutions) of the five blocks.
CBAM_5CNN_BLOCKS: tuple[tuple[int, int], ...] = ((64, 1), (128, 2), (256, 3), (512, 3), (512, 3))


@register("cbam_5cnn", (224, 224, 3), default_lr=1e-4)
def build_cbam_5cnn(input_shape: tuple[int, int, int] = (224, 224, 3), num_classes: int = 7,
                    weights: str | None = None,
                    dropouts: tuple[float, ...] = (0.25, 0.25, 0.3, 0.3, 0.4),
                    ratio: int = 8, kernel_size: int = 7) -> keras.Model:
    """Five convolutional blocks, each closed by CBAM, max pooling and dropout.

    Block ``i`` is 1/2/3/3/3 3x3 convolutions of 64/128/256/512/512 filters (same padding, no bias,
    each followed by BatchNorm ``block{i}_bn{j}`` and ReLU), then ``block{i}_cbam``, 2x2 max pooling
    ``block{i}_pool`` and dropout ``block{i}_out`` (0.25/0.25/0.3/0.3/0.4); then Flatten →
    Dense(num_classes) → softmax. At 224x224x3 the block outputs are 112×112×64, 56×56×128,
    28×28×256, 14×14×512 and 7×7×512.

    Args:
        input_shape: ``(H, W, C)``, default ``(224, 224, 3)``; grayscale accepted; H and W ≥ 32.
        num_classes: number of output classes.
        weights: ``None`` or a path to a ``.weights.h5`` file of the same architecture.
        dropouts: dropout of each of the five blocks.
        ratio: CBAM channel-attention reduction ratio.
        kernel_size: CBAM spatial-attention kernel size.

    Returns:
        An uncompiled ``keras.Model`` taking pixels in ``[0, 255]``; 15,020,585 parameters at the
        defaults with 7 classes.

    References:
        Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018; the course's
        "5-block CNN + CBAM" FER model; blocks after Simonyan & Zisserman, "Very Deep Convolutional
        Networks for Large-Scale Image Recognition", ICLR 2015.
    """
    if len(dropouts) != len(CBAM_5CNN_BLOCKS):
        raise ValueError(f"dropouts must have {len(CBAM_5CNN_BLOCKS)} values (one per block), got {dropouts}")
    inputs, x = input_stem(input_shape)
    for b, ((filters, convs), rate) in enumerate(zip(CBAM_5CNN_BLOCKS, dropouts), start=1):
        for c in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{b}_conv{c}")(x)
            x = layers.BatchNormalization(name=f"block{b}_bn{c}")(x)
            x = layers.ReLU(name=f"block{b}_relu{c}")(x)
        x = CBAM(ratio, kernel_size, name=f"block{b}_cbam")(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
        x = layers.Dropout(rate, name=f"block{b}_out")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="cbam_5cnn")
    load_weights_file(model, weights)
    return model
