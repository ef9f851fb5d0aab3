"""fer.models.efficientnet: efficientnet_b3 and efficientnet_b0 (weights=None; no downloads in tests)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import fer.models
from fer.models import build_efficientnet_b0, build_efficientnet_b3


def test_b3_default_shape_params_head_and_forward(documented_params, forward):
    model = fer.models.build("efficientnet_b3", l2=0.01, dropout=0.2)
    assert tuple(model.inputs[0].shape[1:]) == (224, 224, 3) == fer.models.default_shape("efficientnet_b3")
    assert model.count_params() == documented_params(build_efficientnet_b3)
    assert tuple(model.get_layer("top_conv").output.shape[1:]) == (7, 7, 1536)  # flat graph, backbone reachable
    assert [la.name for la in model.layers[-4:]] == ["avg_pool", "head_dropout", "logits", "predictions"]
    assert model.get_layer("head_dropout").rate == 0.2
    assert model.get_layer("logits").kernel_regularizer.get_config()["l2"] == pytest.approx(0.01)
    forward(model, n=1)


def test_b0_default_shape_params_head_and_forward(documented_params, forward):
    model = fer.models.build("efficientnet_b0")
    assert tuple(model.inputs[0].shape[1:]) == (224, 224, 3) == fer.models.default_shape("efficientnet_b0")
    assert model.count_params() == documented_params(build_efficientnet_b0)
    assert [la.name for la in model.layers[-5:]] == ["avg_pool", "fc1_dense", "head_dropout", "logits", "predictions"]
    assert model.get_layer("fc1_dense").units == 512
    forward(model, n=1)


def test_grayscale_is_the_repeated_rgb_image_and_pixels_stay_raw():
    gray = build_efficientnet_b0(input_shape=(48, 48, 1))
    rgb = build_efficientnet_b0(input_shape=(48, 48, 3))
    rgb.set_weights(gray.get_weights())
    names = [la.name for la in gray.layers]
    assert "gray_to_rgb" in names and "rescale" not in names  # EfficientNet rescales 0..255 itself
    assert "gray_to_rgb" not in [la.name for la in rgb.layers]
    assert all(la.trainable for la in gray.layers)  # trainable_layers=None: nothing frozen
    images = np.random.default_rng(0).integers(0, 256, size=(2, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(gray(images)), np.asarray(rgb(np.repeat(images, 3, axis=-1))),
                               rtol=1e-5, atol=1e-6)


def _backbone(model):
    names = [la.name for la in model.layers]
    return model.layers[names.index("gray_to_rgb") + 1:names.index("avg_pool")]


@pytest.mark.parametrize("n", [0, 20])
def test_trainable_layers_unfreezes_only_the_last_n_non_bn_layers(n):
    model = build_efficientnet_b0(input_shape=(48, 48, 1), trainable_layers=n)
    backbone = _backbone(model)
    assert backbone[0].name.startswith("rescaling") and backbone[-1].name == "top_activation"
    for i, layer in enumerate(backbone):
        expected = i >= len(backbone) - n and not isinstance(layer, keras.layers.BatchNormalization)
        assert layer.trainable == expected, layer.name
    head = [w for name in ("fc1_dense", "logits") for w in model.get_layer(name).trainable_weights]
    unfrozen = [w for la in backbone[len(backbone) - n:] if not isinstance(la, keras.layers.BatchNormalization)
                for w in la.trainable_weights] if n else []
    assert {id(w) for w in model.trainable_weights} == {id(w) for w in head + unfrozen}
    assert len(unfrozen) > 0 or n == 0


def test_bad_weights_and_trainable_layers_fail_before_building(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.weights.h5' not found"):
        build_efficientnet_b3(weights=str(tmp_path / "nope.weights.h5"))
    with pytest.raises(ValueError, match="trainable_layers must be None or an integer >= 0"):
        build_efficientnet_b0(trainable_layers=1.5)
