"""Builds ``fer/assets/facemesh_reference.npz``: the mean normalised FER2013 face and the FaceMesh mirror permutation.

``python -m fer landmarks reference --data ../shared/data/fer2013/fer2013.csv.gz`` extracts (or reads from
the cache) the landmarks of the training split, averages the normalised meshes of the faces with
presence ≥ 0.5, and matches each point of the x-mirrored mean face to its nearest point of the mean
face with a minimum-cost assignment (Hungarian), which gives the left ↔ right permutation. The result
is checked (an involution that pairs the eye corners 33 ↔ 263 and the mouth corners 61 ↔ 291 and keeps
the nose tip 1) before it is written.
"""

from __future__ import annotations

import os

import numpy as np

from fer.files import write_npz
from fer.landmarks.facemesh import ASSETS, PRESENCE_THRESHOLD, extract_landmarks
from fer.landmarks.geometry import normalize_landmarks

OUT = ASSETS / "facemesh_reference.npz"


def mirror_from_mean(mean: np.ndarray) -> np.ndarray:
    """The left ↔ right permutation of a symmetric mean face (``P x 3``, normalised, eye line on +x)."""
    from scipy.optimize import linear_sum_assignment

    flipped = mean.copy()
    flipped[:, 0] *= -1
    cost = np.linalg.norm(flipped[:, None, :2] - mean[None, :, :2], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(len(mean), np.int64)
    perm[rows] = cols
    return perm


def check_mirror(perm: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``perm`` is an involution with FaceMesh's known symmetric pairs."""
    if not np.array_equal(perm[perm], np.arange(len(perm))):
        raise ValueError("mirror permutation is not an involution; the mean face is not symmetric enough")
    for a, b in ((33, 263), (133, 362), (61, 291), (1, 1), (152, 152), (10, 10)):
        if perm[a] != b:
            raise ValueError(f"mirror permutation maps {a} to {perm[a]}, expected {b}")


def build_reference(points: np.ndarray, presence: np.ndarray) -> dict[str, np.ndarray]:
    """``{"mean_face", "mirror", "faces"}`` from raw landmarks of training faces and their presence."""
    ok = presence >= PRESENCE_THRESHOLD
    norm = normalize_landmarks(points[ok], keep_z=True)
    mean = norm.mean(axis=0)
    # symmetrise with a first permutation, then match again on the symmetric face
    perm = mirror_from_mean(mean)
    sym = 0.5 * (mean + np.column_stack([-mean[perm, 0], mean[perm, 1], mean[perm, 2]]))
    perm = mirror_from_mean(sym)
    check_mirror(perm)
    return {"mean_face": mean.astype(np.float32), "mirror": perm.astype(np.int16), "faces": np.array(int(ok.sum()))}


def write_reference(data: str, out: str | os.PathLike = OUT) -> dict[str, np.ndarray]:
    """Build the reference from the training faces of ``data`` (:func:`build_reference`), write it to ``out``
    atomically and return it.

    Example:
        >>> ref = write_reference("fer2013.csv.gz", "/tmp/facemesh_reference.npz")  # doctest: +SKIP
    """
    from fer.data.sources import load_dataset

    ds = load_dataset(data)
    lm = extract_landmarks(ds.images)  # every face: the same cache entry the training data uses
    train = ds.split == "train"
    ref = build_reference(lm.points[train], lm.presence[train])
    write_npz(out, **ref)
    return ref


