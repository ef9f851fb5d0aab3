"""Face detection: OpenCV's Haar cascade (:class:`FaceDetector`), its live-video settings and face crops.

Faces are found with ``haarcascade_frontalface_default.xml``, which ships inside
``opencv-python-headless`` (hence the ``<5`` pin), on a downscaled, equalized gray frame.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cv2
import numpy as np

from fer.inference.classifier import check_order

#: A face box ``(x, y, w, h)`` in pixels of the full image.
Box = tuple[int, int, int, int]

#: Face-detector settings for live video (webcam, benchmark): a smaller frame and coarser scale steps
#: cost about a third of the photo defaults and still find faces of 40+ pixels.
LIVE_DETECTOR = {"max_side": 320, "scale_factor": 1.2}


def default_cascade_path() -> Path:
    """OpenCV's frontal-face Haar cascade, shipped inside ``opencv-python-headless`` (< 5)."""
    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    if not path.is_file():
        raise FileNotFoundError(f"OpenCV's Haar cascade {path} is missing; install opencv-python-headless<5 "
                                "(OpenCV 5 wheels no longer ship the cascades)")
    return path


class FaceDetector:
    """Haar-cascade face detector, fast enough for live video.

    The frame is converted to gray, downscaled so its longer side is at most ``max_side`` pixels,
    histogram-equalized, and scanned with ``detectMultiScale``; boxes are returned in the
    coordinates of the full frame, largest first.

    Args:
        cascade: a cascade XML file; default :func:`default_cascade_path`.
        max_side: longer side of the frame the detector sees (``None``: full resolution).
        min_face: smallest face to find, in pixels of the full frame.
        scale_factor, min_neighbors: ``detectMultiScale`` parameters.
    """

    def __init__(self, cascade: str | os.PathLike | None = None, *, max_side: int | None = 400,
                 min_face: int = 40, scale_factor: float = 1.1, min_neighbors: int = 5):
        path = Path(cascade) if cascade is not None else default_cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ValueError(f"could not load a Haar cascade from {str(path)!r}")
        if max_side is not None and max_side < 48:
            raise ValueError(f"max_side must be at least 48 pixels (or None), got {max_side}")
        self.max_side, self.min_face = max_side, int(min_face)
        self.scale_factor, self.min_neighbors = float(scale_factor), int(min_neighbors)

    def __call__(self, image: np.ndarray, channel_order: str = "bgr") -> list[Box]:
        gray = _gray_uint8(image, check_order(channel_order))
        h, w = gray.shape
        scale = min(1.0, self.max_side / max(h, w)) if self.max_side else 1.0
        if scale < 1.0:
            gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        side = max(1, round(self.min_face * scale))
        found = self._cascade.detectMultiScale(gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                               minSize=(side, side))
        boxes = []
        for x, y, bw, bh in (found if len(found) else []):
            x0, y0 = max(0, round(x / scale)), max(0, round(y / scale))
            x1, y1 = min(w, round((x + bw) / scale)), min(h, round((y + bh) / scale))
            if x1 > x0 and y1 > y0:
                boxes.append((x0, y0, x1 - x0, y1 - y0))
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


@functools.lru_cache(maxsize=1)
def default_detector() -> FaceDetector:
    """The shared :class:`FaceDetector` with default settings (the cascade is loaded once)."""
    return FaceDetector()


def _gray_uint8(image: np.ndarray, order: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)) or 0 in image.shape:
        raise ValueError(f"image must be H x W (gray), H x W x 3 or H x W x 4, got shape {image.shape}")
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image.astype(np.float32)), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return image
    codes = {("bgr", 3): cv2.COLOR_BGR2GRAY, ("rgb", 3): cv2.COLOR_RGB2GRAY,
             ("bgr", 4): cv2.COLOR_BGRA2GRAY, ("rgb", 4): cv2.COLOR_RGBA2GRAY}
    return cv2.cvtColor(np.ascontiguousarray(image), codes[(order, image.shape[-1])])


def detect_faces(image: np.ndarray, detector: FaceDetector | None = None, *, channel_order: str = "bgr") -> list[Box]:
    """Face boxes ``(x, y, w, h)`` in ``image`` (gray, BGR/RGB or with alpha), largest first."""
    return (detector or default_detector())(image, channel_order)


def crop_face(image: np.ndarray, box: Box, margin: float = 0.1) -> np.ndarray:
    """The face ``box`` grown by ``margin`` (a fraction of its size) on every side, clipped to the image."""
    x, y, w, h = box
    mx, my = round(w * margin), round(h * margin)
    ih, iw = image.shape[:2]
    return image[max(0, y - my):min(ih, y + h + my), max(0, x - mx):min(iw, x + w + mx)]
