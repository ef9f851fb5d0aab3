"""fit_to_model: geometry and channels only, pixels stay in [0, 255]."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer.preprocess import fit_to_model, model_input_shape


def test_gray_to_rgb_repeats_the_channel_without_rescaling():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (3, 48, 48, 1), dtype=np.uint8)
    out = fit_to_model(gray, (48, 48, 3))
    assert out.shape == (3, 48, 48, 3) and out.dtype == np.float32
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray[..., 0].astype(np.float32))
    assert out.max() > 1.5  # still raw pixels, not [0, 1]


def test_rgb_to_gray_matches_opencv():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (2, 20, 20, 3), dtype=np.uint8)
    out = fit_to_model(rgb, (20, 20, 1))
    expected = np.stack([cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) for im in rgb])[..., None]
    assert out.shape == (2, 20, 20, 1)
    assert np.abs(out - expected).max() <= 1.0  # OpenCV uses fixed-point weights and rounds to uint8


def test_downscale_averages_blocks_and_upscale_keeps_constants():
    # Each 2x2 block of the 96px image is constant, so area downscaling to 48px must return the block values.
    rng = np.random.default_rng(2)
    small = rng.integers(0, 256, (2, 48, 48, 1)).astype(np.uint8)
    big = small.repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_allclose(fit_to_model(big, (None, 48, 48, 1)), small.astype(np.float32), atol=1e-3)
    const = np.full((1, 30, 30), 77, dtype=np.uint8)  # N x H x W grayscale accepted
    up = fit_to_model(const, (64, 64, 3))
    assert up.shape == (1, 64, 64, 3)
    np.testing.assert_allclose(up, 77.0, atol=1e-3)


def test_uint8_output_and_dynamic_size():
    x = np.full((1, 10, 12, 3), 200, dtype=np.uint8)
    out = fit_to_model(x, (None, None, 1), dtype=np.uint8)
    assert out.shape == (1, 10, 12, 1) and out.dtype == np.uint8
    assert int(out[0, 0, 0, 0]) == 200


def test_rgba_drops_alpha():
    x = np.zeros((1, 4, 4, 4), dtype=np.uint8)
    x[..., 3] = 255
    assert fit_to_model(x, (4, 4, 3)).max() == 0


@pytest.mark.parametrize("shape", [(48, 48), (48, 48, 2), (1, 48, 48, 5)])
def test_bad_shapes_are_rejected(shape):
    with pytest.raises(ValueError):
        if len(shape) == 4:
            fit_to_model(np.zeros(shape, np.uint8), (48, 48, 1))
        else:
            model_input_shape(shape)


def test_single_image_without_batch_axis_gets_a_hint():
    with pytest.raises(ValueError, match=r"images\[None\]"):
        fit_to_model(np.zeros((48, 48, 1, 1, 1), np.uint8), (48, 48, 1))
