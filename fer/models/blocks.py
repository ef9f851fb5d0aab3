"""Pieces shared by several builders: input handling and weight loading."""

from __future__ import annotations

import os

import keras
from keras import layers


def input_stem(input_shape: tuple[int, int, int], channels: int | None = None,
               scale: float | None = 1.0 / 255.0, offset: float = 0.0):
    """Model input taking pixels in ``[0, 255]``, rescaled, optionally repeated to ``channels``.

    Args:
        input_shape: ``(H, W, C)`` with C = 1 or 3.
        channels: repeat a 1-channel input to this many channels (3 for ImageNet backbones); ``None`` keeps C.
        scale / offset: ``Rescaling`` applied after the repeat; ``scale=None`` leaves pixels as they are
            (for backbones such as EfficientNet that rescale internally).

    Returns:
        ``(inputs, x)``: the ``keras.Input`` (named ``"image"`` in every model) and the tensor to build on.
    """
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ValueError(f"input_shape must be (H, W, 1) or (H, W, 3), got {input_shape}")
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if channels is not None and input_shape[-1] != channels:
        x = layers.Concatenate(name="gray_to_rgb")([x] * channels)
    if scale is not None:
        x = layers.Rescaling(scale, offset, name="rescale")(x)
    return inputs, x


def load_weights_file(model: keras.Model, weights: str | os.PathLike | None) -> None:
    """Load a local ``.weights.h5`` file into ``model`` (``None`` leaves random initialisation)."""
    if weights is None:
        return
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"weights file {weights!r} not found; pass None, 'imagenet' or an existing file")
    model.load_weights(weights)
