"""Photo mode's geometry: the image pyramid's scales, rotated canvases and the matrices that map faces back.

:class:`~fer.inference.detection.YuNetDetector` in photo mode runs YuNet on every level of an image pyramid
and on each level rotated by a few angles; this module says where the levels are and how a rotated level's
pixels map back to the frame. The first level is the frame scaled so that the smallest face wanted
(``min_face``) reaches :data:`RELIABLE_FACE` pixels, the size YuNet finds reliably, its longer side at most
``max_side``; each further level is :data:`PYRAMID_STEP` times smaller, until a face as large as the whole
frame fits YuNet (at most :data:`LARGEST_FACE` pixels). A level keeps the faces of up to
:data:`LARGEST_FACE` pixels and leaves larger ones to the next (the last keeps all); the levels after the
first cost about a fifteenth of it. A rotated level is drawn on a canvas grown to hold all of it; a face
found there is mapped back through the inverse rotation: its landmarks point by point, its box as a box of
the same size around the mapped centre (the face's upright box, which is what the alignment and the
benchmark's true boxes are).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

#: The smallest face box (shorter side, in pixels of the frame YuNet sees) that YuNet finds reliably. Measured
#: on 150 composite scenes of ``python -m fer bench detect`` (seed 1, not the seed of the reported run), each
#: run at 1x, 1.5x, 2x, 3x and 4x: on upright faces (< 10 degrees) recall is 0.0-0.4 below 28 px, about 0.5 at
#: 28-40 px and reaches its plateau (0.85-0.9, the same at every scale) from 48 px on.
RELIABLE_FACE = 48
#: The largest face box (shorter side, pixels of the frame YuNet sees) a pyramid level keeps; larger faces are
#: taken from the next level. YuNet's boxes and landmarks drift on very large faces: the shipped demo face
#: (213 px) at 2x (426 px) keeps its box and inter-ocular distance (81 px) within 2%; at 2.5x (530 px) the eyes
#: are 10% too far apart, at 3x (640 px) 22%, and a second, false face appears inside it.
LARGEST_FACE = 256
#: Each pyramid level is this many times smaller than the one before (faces of 256 px become 64 px: reliable).
PYRAMID_STEP = 4


def pyramid_scales(shape: tuple[int, ...], min_face: int, max_side: int | None) -> list[float]:
    """The factors from a frame of this ``shape`` (``h, w[, c]``) to the pyramid's levels, largest first."""
    cap = max_side / max(shape[:2]) if max_side else math.inf
    levels = [min(RELIABLE_FACE / min_face, cap)]
    while levels[-1] * min(shape[:2]) > LARGEST_FACE:
        levels.append(levels[-1] / PYRAMID_STEP)
    return levels


def check_rotations(rotations: Sequence[float]) -> tuple[float, ...]:
    """``rotations`` as a tuple of floats, after checking they are distinct finite angles within +-60 degrees."""
    try:
        angles = tuple(float(a) for a in rotations)
    except (TypeError, ValueError):
        raise ValueError(f"rotations must be a sequence of angles in degrees, got {rotations!r}") from None
    if not angles or not all(math.isfinite(a) and abs(a) <= 60 for a in angles) or len(set(angles)) < len(angles):
        raise ValueError(f"rotations must be distinct angles within -60..60 degrees (0 = upright), got {rotations!r}")
    return angles


def resized(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` scaled by ``scale`` (area interpolation down, bilinear up; at least 1 x 1 pixel)."""
    if scale == 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def rotated(frame: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` rotated by ``angle`` degrees about its centre on a canvas that holds all of it, and the 2 x 3
    affine matrix from the rotated canvas back to ``frame``."""
    if angle == 0:
        return frame, np.eye(2, 3)
    h, w = frame.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    c, s = abs(matrix[0, 0]), abs(matrix[0, 1])
    cw, ch = math.ceil(w * c + h * s), math.ceil(w * s + h * c)
    matrix[:, 2] += (cw / 2 - w / 2, ch / 2 - h / 2)
    view = cv2.warpAffine(frame, matrix, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return view, cv2.invertAffineTransform(matrix)
