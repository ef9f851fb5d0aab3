"""fer.models.cbam: cbam_5cnn."""

from __future__ import annotations

import numpy as np
import pytest

from fer.layers import CBAM, attention_maps
from fer.models import build_cbam_5cnn


def test_default_224_block_shapes_params_and_forward(documented_params, forward):
    model = build_cbam_5cnn()
    assert tuple(model.inputs[0].shape[1:]) == (224, 224, 3)
    assert model.count_params() == documented_params(build_cbam_5cnn)
    shapes = [tuple(model.get_layer(f"block{b}_out").output.shape[1:]) for b in range(1, 6)]
    assert shapes == [(112, 112, 64), (56, 56, 128), (28, 28, 256), (14, 14, 512), (7, 7, 512)]
    convs = [len([la for la in model.layers if la.name.startswith(f"block{b}_conv")]) for b in range(1, 6)]
    assert convs == [1, 2, 3, 3, 3]
    assert [model.get_layer(f"block{b}_out").rate for b in range(1, 6)] == [0.25, 0.25, 0.3, 0.3, 0.4]
    for b in range(1, 6):  # CBAM sits between the last BN/ReLU of the block and the pooling
        cbam = model.get_layer(f"block{b}_cbam")
        assert isinstance(cbam, CBAM)
        assert model.get_layer(f"block{b}_pool").input is cbam.output
    forward(model, n=1)


@pytest.mark.parametrize("channels", [1, 3])
def test_48x48_gray_and_rgb_and_attention_maps(channels, forward):
    model = build_cbam_5cnn(input_shape=(48, 48, channels))
    forward(model, n=2)
    images = np.random.default_rng(1).integers(0, 256, size=(2, 48, 48, channels)).astype("float32")
    maps = attention_maps(model, images)
    assert list(maps) == [f"block{b}_cbam" for b in range(1, 6)]
    assert [m.shape for m in maps.values()] == [(2, s, s, 1) for s in (48, 24, 12, 6, 3)]


def test_dropouts_must_match_blocks():
    with pytest.raises(ValueError, match="dropouts must have 5 values"):
        build_cbam_5cnn(input_shape=(48, 48, 1), dropouts=(0.1, 0.2))
