"""Fixtures shared by the model-zoo tests."""

from __future__ import annotations

import re

import numpy as np
import pytest

_PARAMS = re.compile(r"([\d,]+) parameters at the\s+defaults")


@pytest.fixture(scope="session")
def documented_params():
    """``documented_params(builder)``: the parameter count stated in a builder's docstring."""

    def parse(builder) -> int:
        found = _PARAMS.findall(builder.__doc__ or "")
        assert len(found) == 1, f"{builder.__name__} must state 'N parameters at the defaults' exactly once"
        return int(found[0].replace(",", ""))

    return parse


@pytest.fixture(scope="session")
def forward():
    """``forward(model, n=2, seed=0)``: class probabilities for ``n`` random ``[0, 255]`` images, checked."""

    def run(model, n: int = 2, seed: int = 0) -> np.ndarray:
        shape = tuple(model.inputs[0].shape[1:])
        images = np.random.default_rng(seed).integers(0, 256, size=(n, *shape)).astype("float32")
        probs = np.asarray(model(images, training=False))
        assert probs.dtype == np.float32
        assert probs.shape == (n, model.outputs[0].shape[-1])
        assert np.all(probs >= 0)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        return probs

    return run
