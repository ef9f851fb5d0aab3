"""Face alignment and framing: rotate a face so its eyes are level and crop it the way FER2013 frames its faces.

The crop is a square in the face's own frame (eyes horizontal), placed from YuNet's two eye landmarks::

    d = |right_eye - left_eye|               (inter-ocular distance, pixels)
    theta = angle of the eye line
    centre = eye_midpoint + R(theta) @ (dx * d, dy * d)
    side = scale * d

``dx``, ``dy`` and ``scale`` (:data:`FRAMING`) were measured by ``python -m fer study framing``
on FER2013 training faces pasted at known places into larger canvases and re-detected with YuNet; the
measurement and its residuals are in ``results/framing_calibration.json`` (a test checks that the
constants here equal the file's). Faces without landmarks (the Haar detector) keep the old crop: the
box grown by a margin (:func:`fer.inference.detection.crop_face`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from fer.inference.detection import Face

#: An image region as OpenCV's RotatedRect: ``((cx, cy), (w, h), angle in degrees)``, clockwise on screen.
Region = tuple[tuple[float, float], tuple[float, float], float]
#: FER2013 framing relative to the eyes (``results/framing_calibration.json``, key ``"framing"``).
FRAMING: dict[str, float] = {"dx": 0.0212, "dy": 0.2966, "scale": 2.776}
#: FER2013 framing relative to YuNet's box (same file, key ``"box_framing"``): centre = box centre +
#: ``(dx * w, dy * h)``, side = ``scale * w``.
BOX_FRAMING: dict[str, float] = {"dx": 0.0, "dy": -0.0109, "scale": 1.28}
#: Where a crop's centre and size come from: the eyes (:data:`FRAMING`) or the box (:data:`BOX_FRAMING`);
#: its angle always comes from the eyes.
SQUARE_FROM = ("eyes", "box")
#: Side of the aligned crop in pixels is the face's own size, kept within these bounds (the classifier resizes).
CROP_SIDE = (48, 192)


def eye_geometry(landmarks: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(eye midpoint, inter-ocular distance, eye-line angle in radians)`` from YuNet's 5 x 2 landmarks."""
    marks = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    a, b = marks[0], marks[1]
    d = float(np.hypot(*(b - a)))
    return (a + b) / 2.0, d, math.atan2(b[1] - a[1], b[0] - a[0])


def framing_square(landmarks: np.ndarray, framing: dict[str, float] | None = None) -> tuple[np.ndarray, float, float]:
    """``(centre, side, angle)`` of the FER2013-like crop for a face with these landmarks."""
    f = FRAMING if framing is None else framing
    mid, d, angle = eye_geometry(landmarks)
    c, s = math.cos(angle), math.sin(angle)
    offset = np.array([c * f["dx"] - s * f["dy"], s * f["dx"] + c * f["dy"]]) * d
    return mid + offset, f["scale"] * d, angle


def face_square(face: Face, square_from: str = "eyes",
                framing: dict[str, float] | None = None) -> tuple[np.ndarray, float, float]:
    """``(centre, side, angle)`` of the FER2013-like crop of a face with landmarks: centre and side from its eyes
    (``framing`` default :data:`FRAMING`) or from its box (``framing`` default :data:`BOX_FRAMING`), the angle
    from its eye line either way."""
    if square_from not in SQUARE_FROM:
        raise ValueError(f"square_from={square_from!r}: choose one of {SQUARE_FROM}")
    if square_from == "eyes":
        return framing_square(face.landmarks, framing)
    _, _, angle = eye_geometry(face.landmarks)
    x, y, w, h = face.box
    f = BOX_FRAMING if framing is None else framing
    return np.array([x + w / 2 + f["dx"] * w, y + h / 2 + f["dy"] * h]), f["scale"] * w, angle


def crop_region(face: Face, *, align: bool = True, margin: float = 0.1, square_from: str = "eyes") -> Region:
    """The part of the image the classifier is given for ``face``: the FER2013-framed square of
    :func:`aligned_crop` when the face has landmarks (and ``align``), else the box grown by ``margin`` like
    :func:`~fer.inference.detection.crop_face` (before clipping to the image)."""
    if align and face.landmarks is not None:
        centre, side, angle = face_square(face, square_from)
        return (float(centre[0]), float(centre[1])), (side, side), math.degrees(angle)
    x, y, w, h = face.box
    return (x + w / 2, y + h / 2), (w * (1 + 2 * margin), h * (1 + 2 * margin)), 0.0


def region_iou(a: Region, b: Region) -> float:
    """Intersection over union of two rotated rectangles (:data:`Region`)."""
    kind, points = cv2.rotatedRectangleIntersection(a, b)
    inter = cv2.contourArea(points) if kind != cv2.INTERSECT_NONE and points is not None else 0.0
    union = a[1][0] * a[1][1] + b[1][0] * b[1][1] - inter
    return float(inter / union) if union > 0 else 0.0


def aligned_crop(image: np.ndarray, face: Face, framing: dict[str, float] | None = None, *,
                 size: int | None = None, square_from: str = "eyes") -> np.ndarray:
    """The face rotated so its eyes are level, cropped square like FER2013 (edges replicated where it leaves the image).

    Args:
        image: the full image (any channel layout; the crop keeps it).
        face: a :class:`~fer.inference.detection.Face` with landmarks (from YuNet).
        framing: ``{"dx", "dy", "scale"}``; default :data:`FRAMING` (:data:`BOX_FRAMING` with ``"box"``).
        size: output side in pixels; default the face's own size within :data:`CROP_SIDE`.
        square_from: ``"eyes"`` (the crop's centre and side from the eyes) or ``"box"`` (from the box; see
            :func:`face_square`); the eyes level the crop either way.

    Raises:
        ValueError: the face has no landmarks or its eyes coincide.
    """
    if face.landmarks is None:
        raise ValueError("aligned_crop needs a face with landmarks (YuNet); use crop_face for Haar boxes")
    centre, side, angle = face_square(face, square_from, framing)
    if not np.isfinite(side) or side < 1:
        raise ValueError(f"the eye landmarks of face {face.box} are too close to frame a crop")
    n = int(size) if size else int(np.clip(round(side), *CROP_SIDE))
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), math.degrees(angle), n / side)
    matrix[:, 2] += (n / 2.0 - centre[0], n / 2.0 - centre[1])
    image = np.asarray(image)
    return cv2.warpAffine(np.ascontiguousarray(image), matrix, (n, n), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
