"""fer.models.mobilenet: mobilenet_cbam (classifier and ArcFace embedding variant)."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from fer.layers import CBAM, SqueezeExcitation, attention_maps
from fer.models import build_mobilenet_cbam
from fer.models.transfer import copy_weights_by_name


def test_default_224_structure_params_and_forward(documented_params, forward):
    model = build_mobilenet_cbam()
    assert model.count_params() == documented_params(build_mobilenet_cbam)
    widths = [model.get_layer(f"conv_pw_{i}").filters for i in range(1, 10)]
    assert widths == [64, 128, 128, 256, 256, 512, 512, 1024, 1024]
    strides = [model.get_layer(f"conv_dw_{i}").strides[0] for i in range(1, 10)]
    assert strides == [1, 2, 1, 2, 1, 2, 1, 2, 1]
    cbams = {la.name: tuple(la.output.shape[1:]) for la in model.layers if isinstance(la, CBAM)}
    assert cbams == {"cbam_5": (28, 28, 256), "cbam_6": (14, 14, 512), "cbam_7": (14, 14, 512),
                     "cbam_9": (7, 7, 1024)}
    assert not any(isinstance(la, SqueezeExcitation) for la in model.layers)
    forward(model, n=1)


@pytest.mark.parametrize("channels", [1, 3])
def test_48x48_gray_rgb_and_se(channels, forward):
    model = build_mobilenet_cbam(input_shape=(48, 48, channels), se=True)
    assert [la.name for la in model.layers if isinstance(la, SqueezeExcitation)] == [f"se_{i}" for i in range(1, 10)]
    forward(model)
    maps = attention_maps(model, np.zeros((1, 48, 48, channels), "float32"))
    assert [maps[f"cbam_{i}"].shape for i in (5, 6, 7, 9)] == [(1, 6, 6, 1), (1, 3, 3, 1), (1, 3, 3, 1), (1, 2, 2, 1)]
    assert maps["se_1"].shape == (1, 1, 1, 64)


def test_embedding_contract(documented_params):
    """losses' ArcFace builds on ``build_mobilenet_cbam(..., embedding=True)``: (batch, 1024) pooled features."""
    classifier = build_mobilenet_cbam(input_shape=(48, 48, 3))
    embedder = build_mobilenet_cbam(input_shape=(48, 48, 3), embedding=True)
    assert embedder.output.shape == (None, 1024) and embedder.output.dtype == "float32"
    assert embedder.outputs[0] is embedder.get_layer("embedding").output
    assert classifier.count_params() - embedder.count_params() == 1024 * 7 + 7
    # no Flatten, so the 48x48 counts equal the documented 224x224 ones
    assert classifier.count_params() == documented_params(build_mobilenet_cbam)
    stated = re.search(r"\(([\d,]+) with ``embedding=True``\)", build_mobilenet_cbam.__doc__)
    assert embedder.count_params() == int(stated.group(1).replace(",", ""))
    copy_weights_by_name(embedder, classifier)
    images = np.random.default_rng(0).integers(0, 256, size=(2, 48, 48, 3)).astype("float32")
    pooled = keras.Model(classifier.input, classifier.get_layer("embedding").output)(images)
    vectors = np.asarray(embedder(images))
    np.testing.assert_allclose(vectors, np.asarray(pooled), rtol=1e-5, atol=1e-5)
    assert not np.allclose(np.linalg.norm(vectors, axis=1), 1.0)  # not L2-normalised


def test_cbam_after_is_validated():
    with pytest.raises(ValueError, match="cbam_after must hold pair indices 1..9"):
        build_mobilenet_cbam(input_shape=(48, 48, 1), cbam_after=(0, 10))
    model = build_mobilenet_cbam(input_shape=(48, 48, 1), cbam_after=(2,))
    assert [la.name for la in model.layers if isinstance(la, CBAM)] == ["cbam_2"]
