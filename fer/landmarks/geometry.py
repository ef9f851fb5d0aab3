"""Landmark geometry: normalisation (centre, scale, eye-line rotation), the mirror permutation, augmentation.

Conventions: points are ``(x, y, z)`` in image axes (x right, y down, z depth). "Left" and "right" are
the subject's, as in MediaPipe: the subject's right eye (``FACEMESH_RIGHT_EYE``, around point 33) is on
the image's left.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from fer.landmarks import connections as c

#: Points of the subject's right and left eye contours (their means are the eye centres).
RIGHT_EYE = tuple(sorted({i for e in c.FACEMESH_RIGHT_EYE for i in e}))
LEFT_EYE = tuple(sorted({i for e in c.FACEMESH_LEFT_EYE for i in e}))


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(right, left)``: mean of each eye contour, ``... x 3``."""
    p = np.asarray(points)
    return p[..., RIGHT_EYE, :].mean(axis=-2), p[..., LEFT_EYE, :].mean(axis=-2)


def normalize_landmarks(points: np.ndarray, keep_z: bool = True, eps: float = 1e-6) -> np.ndarray:
    """Put every face in one frame: centred, unit size, eye line horizontal.

    For each face: subtract the centroid of all points (x, y and z); rotate x-y about it so that the
    line from the subject's right eye centre to the left eye centre points along +x (in-plane roll
    removed; the face stays upright, y down); divide x, y and z by the root-mean-square x-y distance
    of the points from the centroid (so the x-y cloud has RMS radius 1 whatever the crop size).

    Args:
        points: ``N x P x 3`` (or ``P x 3``) FaceMesh points, P = 468 or 478, in any pixel frame.
        keep_z: keep the scaled depth as a third coordinate; ``False`` returns x-y only.
        eps: floor of the scale (a degenerate all-equal face stays finite).

    Returns:
        ``float32 N x P x 3`` (``N x P x 2`` without z), same leading shape as ``points``.
    """
    p = np.asarray(points, dtype=np.float64)
    single = p.ndim == 2
    if single:
        p = p[None]
    if p.ndim != 3 or p.shape[-1] != 3 or p.shape[1] < max(LEFT_EYE) + 1:
        raise ValueError(f"points must be N x 468 x 3 (or N x 478 x 3) FaceMesh landmarks, got shape {p.shape}")
    p = p - p.mean(axis=1, keepdims=True)
    right, left = eye_centres(p)
    d = left - right
    angle = np.arctan2(d[:, 1], d[:, 0])  # roll of the eye line
    cos, sin = np.cos(-angle)[:, None], np.sin(-angle)[:, None]
    x = p[..., 0] * cos - p[..., 1] * sin
    y = p[..., 0] * sin + p[..., 1] * cos
    scale = np.sqrt(np.mean(x * x + y * y, axis=1, keepdims=True))
    scale = np.maximum(scale, eps)
    cols = [x / scale, y / scale] + ([p[..., 2] / scale] if keep_z else [])
    out = np.stack(cols, axis=-1).astype(np.float32)
    return out[0] if single else out


@lru_cache(maxsize=1)
def _reference() -> dict[str, np.ndarray]:
    from fer.landmarks.facemesh import ASSETS

    path = ASSETS / "facemesh_reference.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} is missing; reinstall fer (it ships the FaceMesh mean face and "
                                "mirror permutation) or rebuild it with `python -m fer landmarks reference`")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def mean_face(keep_z: bool = True) -> np.ndarray:
    """The mean normalised FaceMesh face of the FER2013 training faces with a fitted mesh (``468 x 3``, or ``x 2``).

    It is the stated fallback for a face whose mesh failed: the model still predicts, from an average face.
    """
    m = _reference()["mean_face"].astype(np.float32)
    return m if keep_z else m[:, :2]


def mirror_permutation() -> np.ndarray:
    """``perm`` (468 ints, an involution) with ``mirrored[i] = flip_x(points[perm[i]])``: left ↔ right point pairs."""
    return _reference()["mirror"].astype(np.int64)


def mirror_landmarks(points: np.ndarray) -> np.ndarray:
    """Horizontal mirror of normalised landmarks (``... x 468 x D``): x negated and left/right points swapped."""
    perm = mirror_permutation()
    out = np.array(np.asarray(points)[..., perm, :], dtype=np.float32)
    out[..., 0] *= -1.0
    return out


def augment_landmarks(points: np.ndarray, rng: np.random.Generator, rotation: float = 5.0, zoom: float = 0.05,
                      flip: bool = True, jitter: float = 0.0) -> np.ndarray:
    """Random mirror, in-plane rotation (± ``rotation`` degrees) and scale (± ``zoom``) of normalised landmarks.

    Args:
        points: ``float32 N x P x D`` normalised landmarks (D = 2 or 3; z is scaled, not rotated).
        rng: the random generator (same generator state → same output).
        rotation, zoom: ranges around the identity.
        flip: mirror half of the faces with :func:`mirror_landmarks`.
        jitter: standard deviation of Gaussian noise added to every coordinate.

    Returns:
        ``float32`` array shaped like ``points``.
    """
    x = np.array(points, dtype=np.float32)
    n = len(x)
    if flip:
        m = rng.random(n) < 0.5
        if m.any():
            x[m] = mirror_landmarks(x[m])
    theta = np.deg2rad(rng.uniform(-rotation, rotation, n)).astype(np.float32)[:, None]
    s = (1.0 + rng.uniform(-zoom, zoom, n)).astype(np.float32)[:, None]
    cos, sin = np.cos(theta) * s, np.sin(theta) * s
    px, py = x[..., 0].copy(), x[..., 1].copy()
    x[..., 0] = px * cos - py * sin
    x[..., 1] = px * sin + py * cos
    if x.shape[-1] > 2:
        x[..., 2:] *= s[..., None]
    if jitter > 0:
        x += rng.normal(0.0, jitter, x.shape).astype(np.float32)
    return x
