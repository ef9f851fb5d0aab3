"""fer.export: TFLite round trips (float32, float16, int8) keep accuracy and class names; CLI errors."""

from __future__ import annotations

import argparse
import json

import keras
import numpy as np
import pytest
from keras import layers

from fer.class_names import attach_class_names
from fer.cli.export import add_export_parser
from fer.export import compare, export_onnx, export_tflite, read_metadata
from fer.inference import Classifier, load_classifier

NAMES = ("top_left", "top_right", "bottom_left", "bottom_right")
SIZE = 16


def _separable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy gray faces whose class is the bright quadrant: easy to learn, not trivially constant."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(NAMES), n)
    images = rng.integers(0, 120, (n, SIZE, SIZE, 1)).astype(np.uint8)
    h = SIZE // 2
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 2)
        images[i, r * h:(r + 1) * h, c * h:(c + 1) * h] += rng.integers(60, 130, dtype=np.uint8)
    return images, labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny CNN trained for a couple of seconds, saved with its class names; plus held-out faces."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1), name="image")
    x = layers.Rescaling(1 / 255.0)(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(4)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(len(NAMES), name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="quadrants")
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x_train, y_train = _separable(800, 0)
    model.fit(x_train.astype("float32"), y_train, epochs=8, batch_size=64, verbose=0)
    attach_class_names(model, NAMES)
    path = tmp_path_factory.mktemp("export") / "quadrants.keras"
    model.save(path)
    x_test, y_test = _separable(300, 1)
    return path, x_train, x_test, y_test


@pytest.fixture(scope="module")
def keras_accuracy(trained):
    path, _, x_test, y_test = trained
    acc = float(np.mean(load_classifier(path).predict(x_test).argmax(1) == y_test))
    assert acc > 0.9  # the fixture model really learned the task, so the comparisons below mean something
    return acc


@pytest.mark.parametrize("quantize, prob_tol", [(None, 1e-4), ("float16", 2e-2), ("int8", 0.1)])
def test_tflite_round_trip_keeps_accuracy_and_class_names(trained, keras_accuracy, tmp_path, quantize, prob_tol):
    path, x_train, x_test, y_test = trained
    out = export_tflite(path, tmp_path / "m.tflite", quantize=quantize,
                        calibration=x_train if quantize == "int8" else None, calibration_samples=100)
    assert out == tmp_path / "m.tflite" and not list(tmp_path.glob(".*"))
    meta = read_metadata(out)
    assert meta["classes"] == list(NAMES) and meta["quantize"] == quantize and meta["input_shape"] == [SIZE, SIZE, 1]
    clf = load_classifier(out)
    assert clf.format == "tflite" and clf.classes == NAMES and clf.input_shape == (SIZE, SIZE, 1)
    result = compare(path, clf, x_test, y_test)
    assert result["accuracy_reference"] == pytest.approx(keras_accuracy)
    assert abs(result["accuracy_exported"] - keras_accuracy) <= 0.01
    assert result["max_abs_prob_diff"] < prob_tol
    # Faces of another size / colour go through the same preprocessing as the Keras classifier.
    rgb_faces = np.repeat(np.repeat(np.repeat(x_test[:8], 3, axis=-1), 2, axis=1), 2, axis=2)
    np.testing.assert_allclose(clf.predict(rgb_faces), load_classifier(path).predict(rgb_faces), atol=prob_tol)
    # The weights really are stored in the quantized type.
    stored = {d["dtype"] for d in clf._run.interpreter.get_tensor_details()}
    expected = {None: np.float32, "float16": np.float16, "int8": np.int8}[quantize]
    assert expected in stored and (quantize is not None or np.float16 not in stored)
    # Batch size changes (1, then 8, then 1) are handled by resizing the interpreter input.
    np.testing.assert_allclose(clf.predict(x_test[:1])[0], clf.predict(x_test[:8])[0], atol=1e-6)


def test_export_argument_errors(trained, tmp_path):
    path = trained[0]
    with pytest.raises(ValueError, match="calibration"):
        export_tflite(path, tmp_path / "m.tflite", quantize="int8")
    with pytest.raises(ValueError, match="quantize"):
        export_tflite(path, tmp_path / "m.tflite", quantize="int4")
    with pytest.raises(ValueError, match=".tflite"):
        export_tflite(path, tmp_path / "m.bin")


def test_tflite_without_metadata_uses_sidecar_or_defaults(trained, tmp_path):
    model = keras.saving.load_model(trained[0])
    bare = tmp_path / "bare.tflite"
    model.export(str(bare), format="litert", verbose=False)
    assert read_metadata(bare) == {}
    with pytest.warns(UserWarning, match="no class names"):
        assert load_classifier(bare).classes == ("class_0", "class_1", "class_2", "class_3")
    (tmp_path / "bare.tflite.json").write_text(json.dumps({"classes": list(NAMES)}))
    assert load_classifier(bare).classes == NAMES


def _cli(argv, capsys):
    parser = argparse.ArgumentParser(prog="fer")
    add_export_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_export_cli(trained, keras_accuracy, tmp_path, capsys, monkeypatch):
    from fer.data import Dataset

    path, _, x_test, y_test = trained
    # --compare reads DATA with fer.data.sources.load_dataset; give it the held-out faces with the
    # class list in another order, so labels must be matched to the model's classes by name.
    order = NAMES[::-1]
    data = Dataset(images=x_test, labels=np.array([order.index(NAMES[k]) for k in y_test]),
                   split=np.array(["test"] * len(x_test)), source=np.array(["quadrants"] * len(x_test)),
                   origin=np.arange(len(x_test)), classes=order)
    monkeypatch.setattr("fer.data.sources.load_dataset", lambda spec, **kw: data)
    out = tmp_path / "cli.tflite"
    code, stdout, err = _cli(["export", path, "--format", "tflite", "--quantize", "float16", "--out", out,
                              "--compare", "quadrants"], capsys)
    assert code == 0, err
    assert out.is_file() and "top_left" in stdout
    report = json.loads(stdout[stdout.index("{"):])
    assert report["split"] == "test" and report["n"] == len(x_test)
    assert report["accuracy_reference"] == pytest.approx(keras_accuracy)
    assert abs(report["accuracy_exported"] - keras_accuracy) <= 0.01
    assert load_classifier(out).classes == NAMES
    not_model = tmp_path / "junk.keras"
    not_model.write_text("junk")
    for argv, message in [
        (["export", tmp_path / "missing.keras"], "not found"),
        (["export", not_model], "junk.keras"),
        (["export", path, "--quantize", "int8"], "--calibration"),
        (["export", path, "--format", "onnx", "--quantize", "float16"], "tflite only"),
    ]:
        code, _, err = _cli(argv, capsys)
        assert code == 1 and message in err and err.startswith("fer export: "), (argv, err)


def test_onnx_round_trip(trained, keras_accuracy, tmp_path):
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    path, _, x_test, y_test = trained
    out = export_onnx(path, tmp_path / "m.onnx")
    clf = load_classifier(out)
    assert clf.format == "onnx" and clf.classes == NAMES
    result = compare(Classifier.from_keras(keras.saving.load_model(path)), clf, x_test, y_test)
    assert result["max_abs_prob_diff"] < 1e-4 and result["accuracy_exported"] == pytest.approx(keras_accuracy)
