"""``mobilenet_cbam``: a MobileNet-v1-style depthwise-separable stack with CBAM (and optional SE) blocks."""

from __future__ import annotations

import keras
from keras import layers

from fer.layers import CBAM, SqueezeExcitation
from fer.models.blocks import input_stem, load_weights_file
from fer.models.registry import register

#: (pointwise filters, depthwise stride) of the nine depthwise-separable pairs, as in MobileNet v1.
MOBILENET_PAIRS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (1024, 2), (1024, 1),
)


@register("mobilenet_cbam", (224, 224, 3), default_lr=1e-3)
def build_mobilenet_cbam(input_shape: tuple[int, int, int] = (224, 224, 3), num_classes: int = 7,
                         weights: str | None = None, cbam_after: tuple[int, ...] = (5, 6, 7, 9),
                         ratio: int = 8, kernel_size: int = 7, se: bool = False, se_ratio: int = 16,
                         embedding: bool = False) -> keras.Model:
    """MobileNet v1 stack with CBAM after the 28×28, the two 14×14 and the last 7×7 stages.

    ``conv1`` (3x3, stride 2, 32 filters) then nine pairs ``i`` = 1..9 of a 3x3 depthwise
    convolution ``conv_dw_{i}`` and a 1x1 pointwise convolution ``conv_pw_{i}`` (each without bias,
    + BatchNorm + ReLU) with widths 64, 128, 128, 256, 256, 512, 512, 1024, 1024 and depthwise
    strides 1, 2, 1, 2, 1, 2, 1, 2, 1. With ``se=True`` a squeeze-excitation block ``se_{i}``
    follows every pair. CBAM blocks ``cbam_{i}`` follow the pairs listed in ``cbam_after``
    (default 5, 6, 7, 9: at 224x224 the 256-wide stage at 28×28, both 512-wide stages at 14×14
    and the last 1024-wide stage at 7×7). Global average pooling (``embedding``, float32) →
    Dense(num_classes) ``logits`` → softmax ``predictions``.

    Args:
        input_shape: ``(H, W, C)``, default ``(224, 224, 3)``; grayscale accepted; H and W ≥ 32.
        num_classes: number of output classes (unused when ``embedding=True``).
        weights: ``None`` or a path to a ``.weights.h5`` file of the same architecture (and the
            same ``embedding`` setting).
        cbam_after: 1-based indices of the pairs followed by a CBAM block.
        ratio / kernel_size: CBAM channel reduction ratio and spatial kernel size.
        se: add a squeeze-excitation block after every pair.
        se_ratio: reduction ratio of the SE blocks.
        embedding: return the model up to the pooled features: its output is the
            ``(batch, 1024)`` float32 global-average-pooled embedding (not L2-normalised), the
            input of an ArcFace head (see :mod:`fer.losses`). The output layer is named
            ``embedding`` in both variants.

    Returns:
        An uncompiled ``keras.Model`` taking pixels in ``[0, 255]``; 2,565,231 parameters at the
        defaults with 7 classes (2,558,056 with ``embedding=True``).

    References:
        Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
        Applications", 2017; Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018;
        Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018.
    """
    bad = [i for i in cbam_after if not 1 <= i <= len(MOBILENET_PAIRS)]
    if bad:
        raise ValueError(f"cbam_after must hold pair indices 1..{len(MOBILENET_PAIRS)}, got {tuple(cbam_after)}")
    inputs, x = input_stem(input_shape)
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="conv1")(x)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(name="conv1_relu")(x)
    for i, (filters, stride) in enumerate(MOBILENET_PAIRS, start=1):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"conv_dw_{i}")(x)
        x = layers.BatchNormalization(name=f"conv_dw_{i}_bn")(x)
        x = layers.ReLU(name=f"conv_dw_{i}_relu")(x)
        x = layers.Conv2D(filters, 1, use_bias=False, name=f"conv_pw_{i}")(x)
        x = layers.BatchNormalization(name=f"conv_pw_{i}_bn")(x)
        x = layers.ReLU(name=f"conv_pw_{i}_relu")(x)
        if se:
            x = SqueezeExcitation(se_ratio, name=f"se_{i}")(x)
        if i in cbam_after:
            x = CBAM(ratio, kernel_size, name=f"cbam_{i}")(x)
    features = layers.GlobalAveragePooling2D(dtype="float32", name="embedding")(x)
    if embedding:
        model = keras.Model(inputs, features, name="mobilenet_cbam_embedding")
    else:
        x = layers.Dense(num_classes, name="logits")(features)
        outputs = layers.Activation("softmax", dtype="float32", name="predictions")(x)
        model = keras.Model(inputs, outputs, name="mobilenet_cbam")
    load_weights_file(model, weights)
    return model
