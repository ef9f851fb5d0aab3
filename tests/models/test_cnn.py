"""fer.models.cnn: baseline_cnn, simple_cnn, cnn_spatial_attention."""

from __future__ import annotations

import numpy as np
import pytest

import fer.models
from fer.layers import SpatialAttention, attention_maps
from fer.models import build_baseline_cnn, build_cnn_spatial_attention, build_simple_cnn

BUILDERS = {"baseline_cnn": build_baseline_cnn, "simple_cnn": build_simple_cnn,
            "cnn_spatial_attention": build_cnn_spatial_attention}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_default_shape_params_and_forward(name, documented_params, forward):
    model = fer.models.build(name)
    assert tuple(model.inputs[0].shape[1:]) == fer.models.default_shape(name)
    assert model.count_params() == documented_params(BUILDERS[name])
    assert model.get_layer("predictions").dtype_policy.compute_dtype == "float32"
    forward(model)


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("channels", [1, 3])
def test_48x48_gray_and_rgb(name, channels, forward):
    model = BUILDERS[name](input_shape=(48, 48, channels), num_classes=5)
    assert model.outputs[0].shape[-1] == 5
    forward(model, n=1)


def test_baseline_block_structure():
    model = build_baseline_cnn()
    shapes = [tuple(model.get_layer(f"block{b}_out").output.shape[1:]) for b in range(1, 5)]
    assert shapes == [(24, 24, 32), (12, 12, 64), (6, 6, 128), (3, 3, 256)]
    assert [model.get_layer(f"fc{k}_dense").units for k in (1, 2)] == [512, 256]
    assert model.get_layer("block1_out").rate == 0.25 and model.get_layer("fc1_dropout").rate == 0.5


def test_simple_cnn_structure_and_spatial_attention():
    plain, att = build_simple_cnn(), build_cnn_spatial_attention()
    assert [tuple(plain.get_layer(f"block{b}_out").output.shape[1:]) for b in (1, 2, 3)] == \
        [(64, 64, 32), (32, 32, 64), (16, 16, 128)]
    assert not any(isinstance(layer, SpatialAttention) for layer in plain.layers)
    layer = att.get_layer("spatial_attention")
    assert isinstance(layer, SpatialAttention) and layer.input is att.get_layer("block3_out").output
    # the attention model is the plain one plus the 7x7x2 attention kernel
    assert att.count_params() - plain.count_params() == 7 * 7 * 2
    images = np.random.default_rng(0).integers(0, 256, size=(2, 128, 128, 3)).astype("float32")
    maps = attention_maps(att, images)
    assert list(maps) == ["spatial_attention"] and maps["spatial_attention"].shape == (2, 16, 16, 1)


def test_weights_file_round_trip(tmp_path, forward):
    model = build_baseline_cnn()
    path = tmp_path / "baseline.weights.h5"
    model.save_weights(path)
    again = build_baseline_cnn(weights=str(path))
    np.testing.assert_allclose(forward(again), forward(model), rtol=1e-6, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="not found"):
        build_baseline_cnn(weights=str(tmp_path / "missing.weights.h5"))
