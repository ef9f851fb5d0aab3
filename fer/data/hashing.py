"""Exact and perceptual image hashes, and fast search for duplicate pairs among tens of thousands of faces.

Near duplicates are pairs whose 64-bit difference hash (dHash) differs in at most ``threshold`` bits.
Candidates are found without comparing all pairs: the 64 bits are cut into ``threshold + 1`` pieces and,
by the pigeonhole principle, two hashes within ``threshold`` bits agree exactly on at least one piece;
only faces sharing a piece are compared (with numpy popcount): 35k faces take about a second.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np


def exact_keys(images: np.ndarray) -> np.ndarray:
    """An ``int64`` key per image: equal keys ⇔ identical pixels (first 8 bytes of BLAKE2b of shape + bytes)."""
    flat = np.ascontiguousarray(images.reshape(len(images), -1))
    shape = repr(images.shape[1:]).encode()
    keys = np.empty(len(images), dtype=np.int64)
    for i, row in enumerate(flat):
        keys[i] = int.from_bytes(hashlib.blake2b(shape + row.tobytes(), digest_size=8).digest(), "little", signed=True)
    return keys


def dhash(images: np.ndarray) -> np.ndarray:
    """64-bit difference hash per image (``uint64``): sign of horizontal gradients on a 9x8 thumbnail.

    Robust to brightness/contrast changes, small shifts, resizing and JPEG re-encoding; a mirrored
    face gets a different hash. Uniform (blank) images hash to 0.
    """
    out = np.empty(len(images), dtype=np.uint64)
    weights = (1 << np.arange(64, dtype=np.uint64)).astype(np.uint64)
    for i, image in enumerate(images):
        gray = image[..., 0] if image.shape[-1] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
        bits = (small[:, 1:] > small[:, :-1]).ravel()
        out[i] = np.bitwise_or.reduce(weights[bits]) if bits.any() else np.uint64(0)
    return out


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise Hamming distance between ``uint64`` hashes (broadcasting)."""
    return np.bitwise_count(np.bitwise_xor(a, b)).astype(np.int64)


def near_pairs(hashes: np.ndarray, threshold: int, *, max_bucket: int = 5000) -> np.ndarray:
    """All pairs ``(i, j)``, ``i < j``, whose hashes differ in at most ``threshold`` bits.

    Args:
        hashes: ``uint64`` hashes (e.g. :func:`dhash`).
        threshold: maximum Hamming distance, ``0 <= threshold <= 15``.
        max_bucket: buckets larger than this (thousands of identical pieces, e.g. blank images) are
            compared in blocks to bound memory; results are the same.

    Returns:
        ``int64`` array ``P x 2`` of unique pairs sorted by ``i`` then ``j``.
    """
    if not 0 <= threshold <= 15:
        raise ValueError(f"threshold must be 0..15 bits, got {threshold}")
    hashes = np.asarray(hashes, dtype=np.uint64)
    n = len(hashes)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    pieces = threshold + 1
    bounds = np.linspace(0, 64, pieces + 1).astype(int)
    found = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        mask = np.uint64((1 << (hi - lo)) - 1)
        key = (hashes >> np.uint64(lo)) & mask
        order = np.argsort(key, kind="stable")
        sk = key[order]
        starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        sizes = np.diff(np.r_[starts, n])
        for start, size in zip(starts[sizes > 1], sizes[sizes > 1]):
            members = np.sort(order[start:start + size])
            for b0 in range(0, size, max_bucket):
                block = members[b0:b0 + max_bucket]
                d = hamming(hashes[block][:, None], hashes[members][None, :])
                ii, jj = np.nonzero(d <= threshold)
                a, b = block[ii], members[jj]
                keep = a < b
                if keep.any():
                    found.append(np.stack([a[keep], b[keep]], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.unique(np.concatenate(found).astype(np.int64), axis=0)
    return pairs


def exact_pairs(keys: np.ndarray) -> np.ndarray:
    """All pairs ``(i, j)``, ``i < j``, with equal keys (from :func:`exact_keys`), as ``P x 2``."""
    keys = np.asarray(keys)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    found = []
    for start, size in zip(starts[sizes > 1], sizes[sizes > 1]):
        members = np.sort(order[start:start + size])
        ii, jj = np.triu_indices(size, 1)
        found.append(np.stack([members[ii], members[jj]], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(found).astype(np.int64), axis=0)


#: Side of the thumbnails whose correlation confirms a near-duplicate candidate.
THUMB_SIZE = 16


def thumbnails(images: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """``N x size²`` ``float32`` gray thumbnails with zero mean and unit norm (dot product = correlation)."""
    out = np.empty((len(images), size * size), dtype=np.float32)
    for i, image in enumerate(images):
        gray = image[..., 0] if image.shape[-1] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        out[i] = cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA).ravel()
    out -= out.mean(axis=1, keepdims=True)
    out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-6
    return out


def duplicate_pairs(
    images: np.ndarray, near_threshold: int | None = 8, near_correlation: float = 0.93,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact and near-duplicate pairs among ``images``.

    A pair is an **exact** duplicate when the pixels are identical, and a **near** duplicate when it is
    exact or when its dHashes differ in at most ``near_threshold`` bits *and* the correlation of its
    16x16 thumbnails is at least ``near_correlation``. The hash alone is too coarse for 48x48 faces
    (different people with the same pose collide); the thumbnail check removes those (on FER2013,
    candidate pairs with correlation >= 0.93 are re-encoded / re-cropped / re-toned copies of one photo).

    Args:
        images: ``N x H x W x C`` uint8.
        near_threshold: dHash Hamming radius for near candidates; ``None`` finds exact duplicates only.
        near_correlation: minimum thumbnail correlation of a near duplicate.

    Returns:
        ``(exact, near)``: ``P x 2`` int64 arrays of pairs ``i < j``; ``near`` includes the exact pairs.
    """
    exact = exact_pairs(exact_keys(images))
    if near_threshold is None:
        return exact, exact
    candidates = near_pairs(dhash(images), near_threshold)
    if len(candidates):
        thumbs = thumbnails(images)
        corr = np.einsum("ij,ij->i", thumbs[candidates[:, 0]], thumbs[candidates[:, 1]])
        candidates = candidates[corr >= near_correlation]
    near = np.unique(np.concatenate([exact, candidates]), axis=0) if len(exact) + len(candidates) else exact
    return exact, near
