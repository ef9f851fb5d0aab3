"""Ensembles: the mean of the members' probabilities, members at their own input size, one reloadable file."""

import keras
import numpy as np
import pytest

import fer.models
from fer.class_names import attach_class_names, class_names
from fer.ensemble import FitFace, build_ensemble, load_ensemble
from fer.preprocess import fit_to_model


def _member(name, shape, seed, classes=("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")):
    keras.utils.set_random_seed(seed)
    model = fer.models.build(name, shape, num_classes=len(classes))
    attach_class_names(model, classes)
    return model


@pytest.fixture(scope="module")
def members():
    return [_member("baseline_cnn", (48, 48, 1), 0), _member("simple_cnn", (32, 32, 3), 1)]


def test_the_ensemble_averages_each_member_on_its_own_input(members):
    ensemble = build_ensemble(members)
    assert ensemble.input_shape == (None, 48, 48, 3)
    faces = np.random.default_rng(0).uniform(0, 255, (4, 48, 48, 3)).astype("float32")
    expected = np.mean([m.predict(fit_to_model(faces, m), verbose=0) for m in members], axis=0)
    got = ensemble.predict(faces, verbose=0)
    assert np.allclose(got, expected, atol=2e-3)  # bilinear (Keras) vs area (OpenCV) downscaling
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert class_names(ensemble) == class_names(members[0])


def test_the_saved_ensemble_reloads_with_the_same_outputs(members, tmp_path):
    ensemble = build_ensemble(members)
    for i, m in enumerate(members):
        m.save(tmp_path / f"m{i}.keras")
    loaded_from_files = load_ensemble([tmp_path / "m0.keras", tmp_path / "m1.keras"])
    loaded_from_files.save(tmp_path / "ensemble.keras")
    again = keras.saving.load_model(tmp_path / "ensemble.keras")
    faces = np.random.default_rng(1).uniform(0, 255, (3, 48, 48, 3)).astype("float32")
    assert np.allclose(again.predict(faces, verbose=0), ensemble.predict(faces, verbose=0), atol=1e-5)
    assert class_names(again) == class_names(members[0])


def test_members_must_agree_on_the_classes(members):
    other = _member("baseline_cnn", (48, 48, 1), 2, classes=("a", "b", "c"))
    with pytest.raises(ValueError, match="same classes"):
        build_ensemble([members[0], other])
    with pytest.raises(ValueError, match="at least two"):
        build_ensemble(members[:1])


def test_fit_face_converts_channels_like_opencv():
    rgb = np.random.default_rng(2).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    gray = np.asarray(FitFace(8, 8, 1)(rgb))
    assert np.allclose(gray, fit_to_model(rgb, (8, 8, 1)), atol=1e-3)
    assert np.allclose(np.asarray(FitFace(8, 8, 3)(gray)), np.repeat(gray, 3, axis=-1))


def test_evaluate_and_predict_take_several_models(members, tmp_path, capsys):
    import json

    from fer.__main__ import main
    from fer.inference import DEMO_IMAGE

    for i, m in enumerate(members):
        m.save(tmp_path / f"m{i}.keras")
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--model", str(tmp_path / "m0.keras"), "--model", str(tmp_path / "m1.keras"),
                 "--data", "synthetic:5", "--split", "val", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["model"] == "ensemble" and len(metrics["model_file"]) == 2
    assert main(["predict", str(DEMO_IMAGE), "--model", str(tmp_path / "m0.keras"), "--model",
                 str(tmp_path / "m1.keras"), "--out", str(tmp_path / "pred")]) == 0
    report = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    face = report["images"][0]["faces"][0]
    assert report["classes"] == list(class_names(members[0])) and abs(sum(face["probabilities"].values()) - 1) < 1e-4
