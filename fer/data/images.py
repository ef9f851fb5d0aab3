"""Decoding, color conversion and resizing of face images (OpenCV), shared by the readers and writers."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from fer.data.fer2013 import to_gray

#: File extensions the folder readers decode (compared lower-case).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png")
COLORS: tuple[str, ...] = ("grayscale", "rgb")


def check_color(color: str) -> int:
    """The number of channels for ``color`` (``"grayscale"`` → 1, ``"rgb"`` → 3)."""
    if color not in COLORS:
        raise ValueError(f"color must be one of {COLORS}, got {color!r}")
    return 1 if color == "grayscale" else 3


def check_size(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """Normalise ``size`` (an int side or ``(height, width)``) to ``(height, width)``."""
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be a positive int or (height, width), got {size!r}")
    return int(size[0]), int(size[1])


def decode_image(path: str | os.PathLike, color: str = "grayscale") -> np.ndarray:
    """Read one image file as ``uint8`` ``H x W x C`` (RGB order for ``color="rgb"``).

    Raises:
        ValueError: when the file is empty, truncated or not an image OpenCV can decode.
        OSError: when the file cannot be opened.
    """
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ValueError("file is empty")
    flag = cv2.IMREAD_GRAYSCALE if color == "grayscale" else cv2.IMREAD_COLOR
    image = cv2.imdecode(data, flag)
    if image is None:
        raise ValueError("not a decodable image (truncated or corrupt file)")
    if color == "grayscale":
        return image[..., None]
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def encode_png(image: np.ndarray, path: str | os.PathLike) -> None:
    """Write one ``H x W x C`` uint8 image (RGB or grayscale) as PNG."""
    if image.shape[-1] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"{path}: OpenCV could not encode the image of shape {image.shape}")
    buf.tofile(str(Path(path)))


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize one ``H x W x C`` image to ``size=(height, width)``, keeping the channel axis.

    Shrinking uses area interpolation (no aliasing), enlarging bilinear.
    """
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    shrink = image.shape[0] * image.shape[1] > h * w
    out = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out.reshape(h, w, image.shape[-1])


def convert_color(images: np.ndarray, color: str) -> np.ndarray:
    """``N x H x W x C`` uint8 to 1 channel (``"grayscale"``, luma) or 3 channels (``"rgb"``, gray repeated)."""
    channels = check_color(color)
    if images.shape[-1] == channels:
        return images
    if channels == 1:
        return to_gray(images)
    if images.shape[-1] != 1:
        raise ValueError(f"cannot convert images with {images.shape[-1]} channels to RGB")
    return np.repeat(images, 3, axis=-1)


def resize_images(images: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize a batch ``N x H x W x C`` to ``size`` (no copy when the size already matches)."""
    hw = check_size(size)
    if images.shape[1:3] == hw:
        return images
    out = np.empty((len(images), *hw, images.shape[-1]), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = resize_image(image, hw)
    return out
