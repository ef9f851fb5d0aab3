"""Fit face images of any size and channel count to what a model expects.

Every model in :mod:`fer.models` takes raw pixels in ``[0, 255]`` and rescales
inside, so the only work left to a caller is the geometry: resize to the
model's input size and convert grayscale ↔ RGB. :func:`fit_to_model` does
exactly that and nothing else (no rescaling, no normalisation); evaluation,
inference and the data pipeline all call it so a face is prepared the same way
everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: ITU-R BT.601 luma weights, the ones ``cv2.COLOR_RGB2GRAY`` uses.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def model_input_shape(model_or_shape) -> tuple[int | None, int | None, int]:
    """``(H, W, C)`` of a Keras model's (single) image input, or of a given shape.

    Args:
        model_or_shape: a ``keras.Model`` or a shape such as ``model.input_shape``
            (``(None, H, W, C)``) or ``(H, W, C)``. ``H``/``W`` may be ``None``.

    Raises:
        ValueError: when the model has several inputs or the shape is not an image shape.
    """
    shape = getattr(model_or_shape, "input_shape", model_or_shape)
    if isinstance(shape, list):
        if len(shape) != 1:
            raise ValueError(f"model has {len(shape)} inputs {shape}; fit_to_model handles single-image-input models")
        shape = shape[0]
    shape = tuple(shape)
    if len(shape) == 4:
        shape = shape[1:]
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise ValueError(f"expected an image input shape (H, W, 1) or (H, W, 3), got {shape}")
    return shape  # type: ignore[return-value]


def fit_to_model(images: np.ndarray, input_shape: Sequence[int | None], dtype=np.float32) -> np.ndarray:
    """Resize faces to a model's input size and convert their channels; pixels stay in ``[0, 255]``.

    Args:
        images: ``N x H x W x C`` (C = 1, 3 or 4; 4 drops alpha) or ``N x H x W`` grayscale,
            ``uint8`` (any real dtype is accepted and read as ``[0, 255]`` pixels).
        input_shape: the target ``(H, W, C)``, ``(None, H, W, C)`` (``model.input_shape``) or a
            Keras model. ``H``/``W`` of ``None`` keep the images' size.
        dtype: output dtype; ``float32`` (default) for models, ``uint8`` to store or display
            (rounded and clipped).

    Returns:
        ``N x H' x W' x C'`` array. Downscaling uses ``cv2.INTER_AREA`` (no aliasing),
        upscaling ``cv2.INTER_LINEAR``. RGB → gray uses the BT.601 luma weights
        (as ``cv2.COLOR_RGB2GRAY``); gray → RGB repeats the channel.

    Raises:
        ValueError: when ``images`` is not a batch of images or ``input_shape`` is not an image shape.
    """
    height, width, channels = model_input_shape(input_shape)
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"images must be N x H x W x C with C in (1, 3, 4) or N x H x W, got shape {x.shape}; "
            "for a single face pass images[None]"
        )
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"images must hold numbers (uint8 pixels), got dtype {x.dtype}")
    if x.shape[-1] == 4:
        x = x[..., :3]
    x = x.astype(np.float32, copy=False)

    # Channels first: converting 3 → 1 before resizing does a third of the work.
    if channels == 1 and x.shape[-1] == 3:
        x = (x @ LUMA)[..., None]
    height = x.shape[1] if height is None else int(height)
    width = x.shape[2] if width is None else int(width)
    if (x.shape[1], x.shape[2]) != (height, width):
        shrinking = height * width < x.shape[1] * x.shape[2]
        interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        out = np.empty((len(x), height, width, x.shape[-1]), dtype=np.float32)
        for i, face in enumerate(x):
            resized = cv2.resize(face, (width, height), interpolation=interp)
            out[i] = resized.reshape(height, width, x.shape[-1])
        x = out
    if channels == 3 and x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)

    if np.dtype(dtype) == np.uint8:
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return x.astype(dtype, copy=False)
