"""Duplicate search: exact keys, dHash, the bucketed near-pair search against brute force, and speed."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from fer.data.hashing import dhash, duplicate_pairs, exact_keys, exact_pairs, hamming, near_pairs


def photos(n: int, size: int = 48, seed: int = 0) -> np.ndarray:
    """Distinct photo-like images: blurred noise (smooth, textured, uncorrelated with each other)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 1), np.uint8)
    for i in range(n):
        noise = rng.normal(128, 60, (size, size)).astype(np.float32)
        out[i, ..., 0] = np.clip(cv2.GaussianBlur(noise, (0, 0), 2.5) * 3 - 256, 0, 255)
    return out


def altered(image: np.ndarray, seed: int = 0) -> np.ndarray:
    """A near copy: brighter, lower contrast, noise, JPEG re-encoding."""
    rng = np.random.default_rng(seed)
    x = image[..., 0].astype(np.float32) * 0.9 + 20 + rng.normal(0, 3, image.shape[:2])
    ok, buf = cv2.imencode(".jpg", np.clip(x, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)[..., None]


def brute_force(hashes: np.ndarray, threshold: int) -> set[tuple[int, int]]:
    d = hamming(hashes[:, None], hashes[None, :])
    i, j = np.nonzero(np.triu(d <= threshold, 1))
    return set(zip(i.tolist(), j.tolist()))


@pytest.mark.parametrize("threshold", [0, 3, 8, 12])
def test_near_pairs_equal_brute_force(threshold):
    rng = np.random.default_rng(threshold)
    base = rng.integers(0, 2**63, 60, dtype=np.int64).astype(np.uint64)
    # plant hashes 0..threshold+2 bits away from a few bases
    flips = [base[i % 10] ^ np.uint64(sum(1 << int(b) for b in rng.choice(64, k, replace=False)))
             for i, k in enumerate(rng.integers(0, threshold + 3, 60))]
    hashes = np.concatenate([base, np.array(flips, dtype=np.uint64), np.zeros(5, np.uint64)])
    got = {tuple(p) for p in near_pairs(hashes, threshold).tolist()}
    assert got == brute_force(hashes, threshold)


def test_near_pairs_big_bucket_is_blocked_correctly():
    hashes = np.zeros(30, dtype=np.uint64)  # one bucket of 30 identical hashes
    assert len(near_pairs(hashes, 2, max_bucket=7)) == 30 * 29 // 2


def test_exact_keys_and_pairs():
    imgs = photos(5)
    imgs = np.concatenate([imgs, imgs[[1, 3, 1]]])
    keys = exact_keys(imgs)
    assert keys[1] == keys[5] == keys[7] and keys[3] == keys[6] and len(set(keys.tolist())) == 5
    assert {tuple(p) for p in exact_pairs(keys).tolist()} == {(1, 5), (1, 7), (5, 7), (3, 6)}
    # same bytes in another shape are not the same image
    assert exact_keys(imgs[:1].reshape(1, 24, 96, 1))[0] != keys[0]


def test_dhash_is_robust_to_tone_and_reencoding_but_not_to_content():
    imgs = photos(20, seed=3)
    h = dhash(imgs)
    h_alt = dhash(np.stack([altered(im) for im in imgs]))
    assert hamming(h, h_alt).max() <= 8
    others = hamming(h[:, None], h[None, :])[np.triu_indices(20, 1)]
    assert others.min() > 8


def test_duplicate_pairs_finds_planted_copies_only():
    imgs = photos(40, seed=4)
    imgs = np.concatenate([imgs, imgs[[2]], altered(imgs[5])[None], np.full((2, 48, 48, 1), 90, np.uint8)])
    exact, near = duplicate_pairs(imgs)
    assert {tuple(p) for p in exact.tolist()} == {(2, 40), (42, 43)}  # blank images are exact duplicates
    assert {tuple(p) for p in near.tolist()} == {(2, 40), (5, 41), (42, 43)}
    exact_only = duplicate_pairs(imgs, near_threshold=None)
    np.testing.assert_array_equal(exact_only[0], exact_only[1])


def test_35k_faces_take_seconds():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (35000, 48, 48, 1), dtype=np.uint8)
    imgs[-300:] = imgs[:300]
    start = time.process_time()
    exact, near = duplicate_pairs(imgs)
    assert time.process_time() - start < 15  # about 2 s of CPU
    assert len(exact) == 300 and len(near) >= 300
