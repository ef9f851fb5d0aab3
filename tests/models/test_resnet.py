"""fer.models.resnet: resnet50 (keras.applications backbone) and resnet50_cbam (rebuilt graph + CBAM)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import fer.models
from fer.layers import CBAM, CaffePreprocess
from fer.models import build_resnet50, build_resnet50_cbam
from fer.models.resnet import RESNET50_STAGES
from fer.models.transfer import copy_weights_by_name

STAGE_OUTPUTS = {"conv2": "conv2_block3_out", "conv3": "conv3_block4_out", "conv4": "conv4_block6_out",
                 "conv5": "conv5_block3_out"}


def test_resnet50_default_params_preprocessing_and_forward(documented_params, forward):
    model = fer.models.build("resnet50")
    assert tuple(model.inputs[0].shape[1:]) == (224, 224, 3) == fer.models.default_shape("resnet50")
    assert model.count_params() == documented_params(build_resnet50)
    assert isinstance(model.layers[1], CaffePreprocess) and model.layers[2].name == "conv1_pad"
    assert tuple(model.get_layer("conv5_block3_out").output.shape[1:]) == (7, 7, 2048)
    forward(model, n=1)


def test_resnet50_cbam_default_params_stages_and_forward(documented_params, forward):
    model = fer.models.build("resnet50_cbam")
    assert model.count_params() == documented_params(build_resnet50_cbam)
    shapes = {"conv2": (56, 56, 256), "conv3": (28, 28, 512), "conv4": (14, 14, 1024), "conv5": (7, 7, 2048)}
    for stage, out in STAGE_OUTPUTS.items():
        cbam = model.get_layer(f"{stage}_cbam")
        assert isinstance(cbam, CBAM) and cbam.input is model.get_layer(out).output
        assert tuple(cbam.output.shape[1:]) == shapes[stage]
    for stage in ("conv3", "conv4", "conv5"):  # each CBAM feeds the next stage (block1 conv and shortcut)
        previous = f"conv{int(stage[-1]) - 1}_cbam"
        assert model.get_layer(f"{stage}_block1_1_conv").input is model.get_layer(previous).output
        assert model.get_layer(f"{stage}_block1_0_conv").input is model.get_layer(previous).output
    assert model.get_layer("avg_pool").input is model.get_layer("conv5_cbam").output
    forward(model, n=1)


def _randomize_batchnorm(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                               rng.uniform(0.5, 1.5, c)])


def test_rebuilt_graph_is_keras_applications_resnet50():
    """With cbam_stages=() the rebuilt graph computes exactly keras.applications.ResNet50 (same names/weights)."""
    reference = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(64, 64, 3))
    _randomize_batchnorm(reference)
    plain = build_resnet50_cbam(input_shape=(64, 64, 3), cbam_stages=())
    assert not any(isinstance(la, CBAM) for la in plain.layers)
    reference_names = [la.name for la in reference.layers[1:]]
    names = [la.name for la in plain.layers]
    assert names[names.index("conv1_pad"):names.index("avg_pool")] == reference_names
    weighted = sum(1 for la in reference.layers if la.weights)
    assert len(copy_weights_by_name(reference, plain)) == weighted == 106
    images = np.random.default_rng(0).uniform(0, 255, size=(2, 64, 64, 3)).astype("float32")
    features = keras.Model(plain.input, plain.get_layer("conv5_block3_out").output)(images)
    expected = reference(keras.applications.resnet50.preprocess_input(images.copy()))
    np.testing.assert_allclose(np.asarray(features), np.asarray(expected), rtol=1e-4, atol=1e-4)


def test_copy_weights_by_name_rejects_missing_layers():
    source = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="only_here")], name="source")
    target = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="elsewhere")], name="target")
    with pytest.raises(ValueError, match="'only_here' of 'source' has no counterpart in 'target'"):
        copy_weights_by_name(source, target)
    wider = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="only_here")], name="wider")
    with pytest.raises(ValueError, match="weight shapes"):
        copy_weights_by_name(source, wider)
    both = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="only_here"),
                             keras.layers.Dense(2, name="elsewhere")], name="both")
    before = both.get_layer("elsewhere").get_weights()
    assert copy_weights_by_name(source, wider, strict=False) == []
    assert copy_weights_by_name(source, both, strict=False) == ["only_here"]
    np.testing.assert_array_equal(both.get_layer("only_here").get_weights()[0], source.layers[0].get_weights()[0])
    np.testing.assert_array_equal(both.get_layer("elsewhere").get_weights()[0], before[0])


def test_grayscale_is_the_repeated_rgb_image():
    gray = build_resnet50(input_shape=(48, 48, 1))
    rgb = build_resnet50(input_shape=(48, 48, 3))
    rgb.set_weights(gray.get_weights())
    assert gray.layers[1].name == "gray_to_rgb" and "rescale" not in [la.name for la in gray.layers]
    images = np.random.default_rng(0).integers(0, 256, size=(2, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(gray(images)), np.asarray(rgb(np.repeat(images, 3, axis=-1))),
                               rtol=1e-5, atol=1e-6)


def test_trainable_layers_keeps_cbam_and_head_trainable():
    model = build_resnet50_cbam(input_shape=(48, 48, 1), trainable_layers=4)
    # the last 4 ResNet50 layers: conv5_block3_3_conv, _3_bn, _add, _out (CBAM blocks are not counted)
    trainable = {la.name for la in model.layers if la.trainable_weights}
    cbams = {f"{stage}_cbam" for stage, *_ in RESNET50_STAGES}
    assert trainable == cbams | {"conv5_block3_3_conv", "logits"}
    assert not model.get_layer("conv5_block3_3_bn").trainable
    assert model.get_layer("conv5_block3_out").trainable and not model.get_layer("conv5_block3_2_relu").trainable


def test_bad_arguments():
    with pytest.raises(ValueError, match="cbam_stages must be a subset"):
        build_resnet50_cbam(cbam_stages=("conv6",))
    with pytest.raises(FileNotFoundError, match="not found"):
        build_resnet50(weights="no/such/file.weights.h5")
