"""Grad-CAM finds a planted signal, at the faces' size, in plain and nested models."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fer.explain import find_last_conv_layer, grad_cam


def _detector(inputs):
    """1x1 conv: channel 0 fires on bright pixels (>153), channel 1 on dark ones (<102); gray 128 → 0."""
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="detect")
    x = conv(inputs)
    conv.set_weights([np.array([[[[1.0, -1.0]]]], "float32") / 255.0, np.array([-0.6, 0.4], "float32")])
    return x


def _head(x):
    """Class 0 score = mean of the bright channel, class 1 = mean of the dark channel."""
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    dense = keras.layers.Dense(2, name="logits")
    x = dense(x)
    dense.set_weights([np.eye(2, dtype="float32") * 10, np.zeros(2, "float32")])
    return keras.layers.Activation("softmax", dtype="float32", name="predictions")(x)


def planted_model() -> keras.Model:
    inputs = keras.Input((16, 16, 1))
    return keras.Model(inputs, _head(_detector(inputs)), name="planted")


def nested_model() -> keras.Model:
    inner_in = keras.Input((16, 16, 1))
    backbone = keras.Model(inner_in, _detector(inner_in), name="backbone")
    inputs = keras.Input((16, 16, 1))
    return keras.Model(inputs, _head(backbone(inputs)), name="nested")


def planted_faces() -> np.ndarray:
    """32x32 gray faces: a bright patch top-left (class 0 evidence) and a dark patch bottom-right (class 1)."""
    faces = np.full((2, 32, 32, 1), 128, np.uint8)
    faces[:, 2:12, 2:12] = 255
    faces[:, 22:28, 22:28] = 0
    faces[1, 4:8, 20:24] = 255  # second face: some extra bright pixels top-right
    return faces


def _quadrant_means(heat: np.ndarray) -> dict[str, float]:
    h, w = heat.shape[0] // 2, heat.shape[1] // 2
    return {"tl": heat[:h, :w].mean(), "tr": heat[:h, w:].mean(),
            "bl": heat[h:, :w].mean(), "br": heat[h:, w:].mean()}


def _peak_quadrant(heat: np.ndarray) -> str:
    y, x = np.unravel_index(np.argmax(heat), heat.shape)
    return ("t" if y < heat.shape[0] // 2 else "b") + ("l" if x < heat.shape[1] // 2 else "r")


@pytest.mark.parametrize("build", [planted_model, nested_model])
def test_grad_cam_points_at_the_class_evidence(build):
    model = build()
    faces = planted_faces()
    for cls, where in ((0, "tl"), (1, "br")):
        heat = grad_cam(model, faces[:1], class_index=cls)
        assert heat.shape == (1, 32, 32) and heat.dtype == np.float32  # the faces' size, not the model's
        assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
        assert _peak_quadrant(heat[0]) == where
        means = _quadrant_means(heat[0])
        assert max(means, key=means.get) == where


def test_default_class_is_the_predicted_one():
    model = planted_model()
    faces = planted_faces()
    assert model.predict_on_batch(faces[:, ::2, ::2].astype("float32")).argmax(1).tolist() == [0, 0]
    heat = grad_cam(model, faces)  # predicted class 0 → bright patches only, never the dark one
    assert heat.shape == (2, 32, 32)
    assert _quadrant_means(heat[0])["br"] == pytest.approx(0.0, abs=1e-3)
    assert _quadrant_means(heat[1])["tr"] > 0.05  # the extra bright patch shows in the second face only
    assert _quadrant_means(heat[0])["tr"] == pytest.approx(0.0, abs=1e-3)
    per_face = grad_cam(model, faces, class_index=[0, 1])
    np.testing.assert_allclose(per_face[0], heat[0], atol=1e-5)
    assert _peak_quadrant(per_face[1]) == "br"


def test_layer_detection_and_errors():
    assert find_last_conv_layer(planted_model()) == "detect"
    assert find_last_conv_layer(nested_model()) == "backbone"
    inputs = keras.Input((4,))
    mlp = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    with pytest.raises(ValueError, match="4-D"):
        find_last_conv_layer(mlp)
    with pytest.raises(ValueError, match="not found"):
        grad_cam(planted_model(), planted_faces(), layer_name="nope")
    with pytest.raises(ValueError, match="class_index"):
        grad_cam(planted_model(), planted_faces(), class_index=5)


def test_grad_cam_on_fer_resnet():
    from fer.models import build

    keras.utils.set_random_seed(0)
    model = build("fer_resnet", (48, 48, 1))
    name = find_last_conv_layer(model)
    assert len(model.get_layer(name).output.shape) == 4
    faces = np.random.default_rng(0).integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)  # RGB, 2x the model size
    # every class for both faces in one call: class_index per face
    heats = grad_cam(model, np.repeat(faces, 7, axis=0), class_index=np.tile(np.arange(7), 2))
    assert heats.shape == (14, 96, 96)
    heats = heats.reshape(2, 7, 96, 96).transpose(1, 0, 2, 3)
    assert np.isfinite(heats).all() and heats.min() >= 0 and heats.max() <= 1
    # an untrained model's map for one class may be all zero (every channel weight negative), but not for all
    assert (heats.reshape(7, 2, -1).max(axis=2) > 0).any(axis=0).all()
