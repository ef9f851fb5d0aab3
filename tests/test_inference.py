"""fer.inference / fer.class_names: preprocessing equivalence, class names, detection, drawing, CLI."""

from __future__ import annotations

import argparse
import json
import warnings

import cv2
import keras
import numpy as np
import pytest
from keras import layers

from fer.class_names import LabeledActivation, LabeledSoftmax, attach_class_names, class_names
from fer.cli.export import add_export_parser
from fer.cli.predict import add_predict_parser, add_webcam_parser
from fer.inference import (
    DEMO_IMAGE,
    Classifier,
    FaceResult,
    aligned_crop,
    crop_face,
    detect_and_predict,
    detect_faces,
    draw_predictions,
    haar_available,
    load_classifier,
    make_detector,
    plot_timeline,
)
from fer.labels import EMOTIONS

H, W = 20, 24  # non-square on purpose: catches H/W swaps
NAMES = ("calm", "glad", "mad")


def _model(channels: int, n: int = 3, seed: int = 0, final: str = "activation") -> keras.Model:
    """A tiny model that is very sensitive to its input (so a wrong preprocessing shows)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((H, W, channels), name="image")
    x = layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    x = layers.Flatten()(x)
    x = layers.Dense(n, kernel_initializer=keras.initializers.RandomNormal(stddev=0.3), name="logits")(x)
    if final == "softmax":
        out = layers.Softmax(name="predictions", dtype="float32")(x)
    else:
        out = layers.Activation("softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, out, name=f"tiny_c{channels}")


@pytest.fixture(scope="module")
def gray_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "gray.keras"
    attach_class_names(_model(1), NAMES).save(path)
    return path


@pytest.fixture(scope="module")
def gray_clf(gray_path):
    return load_classifier(gray_path)


@pytest.fixture(scope="module")
def rgb_clf():
    return Classifier.from_keras(_model(3, seed=1), NAMES)


@pytest.fixture(scope="module")
def demo_bgr():
    image = cv2.imread(str(DEMO_IMAGE))
    assert image is not None
    return image


def _faces():
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, (31, 17), dtype=np.uint8),          # gray H x W, upscaled
        rng.integers(0, 256, (90, 70, 1), dtype=np.uint8),       # gray H x W x 1, downscaled
        rng.integers(0, 256, (60, 80, 3), dtype=np.uint8),       # BGR
        rng.integers(0, 256, (H, W, 4), dtype=np.uint8),         # BGRA, already at size
    ]


def _manual(face: np.ndarray, channels: int, order: str = "bgr") -> np.ndarray:
    """Independent reference preprocessing with OpenCV calls only."""
    f = face.astype(np.float32)
    if f.ndim == 3 and f.shape[-1] == 1:
        f = f[..., 0]
    if f.ndim == 3:
        f = f[..., :3]
        if channels == 1:
            f = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY if order == "bgr" else cv2.COLOR_RGB2GRAY)
        elif order == "bgr":
            f = cv2.cvtColor(f, cv2.COLOR_BGR2RGB)
    elif channels == 3:
        f = cv2.cvtColor(f, cv2.COLOR_GRAY2RGB)
    if f.shape[:2] != (H, W):
        shrink = H * W < f.shape[0] * f.shape[1]
        f = cv2.resize(f, (W, H), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return f.reshape(H, W, channels)


@pytest.mark.parametrize("which", ["gray", "rgb"])
def test_predict_equals_model_on_manually_preprocessed_faces(which, gray_clf, rgb_clf):
    clf = gray_clf if which == "gray" else rgb_clf
    channels = clf.input_shape[-1]
    faces = _faces()
    probs = clf.predict(faces)
    assert probs.shape == (len(faces), len(NAMES)) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    manual = np.stack([_manual(f, channels) for f in faces])
    expected = np.asarray(clf.model(manual, training=False))
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    # The same colour faces given as RGB with channel_order="rgb" give the same answer...
    rgb_faces = [f[..., 2::-1] if f.ndim == 3 and f.shape[-1] >= 3 else f for f in faces]
    np.testing.assert_allclose(clf.predict(rgb_faces, channel_order="rgb"), probs, atol=1e-5)
    # ...and reading BGR as RGB does not (the test model is sensitive enough to see channel order).
    assert not np.allclose(clf.predict(faces[2:3], channel_order="rgb"), probs[2:3], atol=1e-3)


def test_predict_accepts_batches_and_empty_input(gray_clf):
    batch = np.random.default_rng(1).integers(0, 256, (5, 40, 40, 3), dtype=np.uint8)
    p = gray_clf.predict(batch)
    np.testing.assert_allclose(p, gray_clf.predict(list(batch)), atol=1e-6)
    np.testing.assert_allclose(gray_clf.predict(batch, batch_size=2), p, atol=1e-6)
    assert gray_clf.predict([]).shape == (0, 3)
    tta = gray_clf.predict(batch, tta=True)
    assert tta.shape == p.shape and not np.allclose(tta, p)
    np.testing.assert_allclose(tta.sum(axis=1), 1.0, atol=1e-5)
    assert gray_clf.predict_labels(batch[:2]) == [NAMES[i] for i in p[:2].argmax(1)]


def test_keras_path_is_traced_once_for_every_batch_size():
    clf = Classifier.from_keras(_model(1, seed=3), NAMES)
    for n in (1, 7, 1, 300):
        assert clf.predict(np.zeros((n, H, W), np.uint8)).shape == (n, 3)
    assert clf._run._fn.experimental_get_tracing_count() == 1


def _conv_bn_model(seed: int = 5) -> keras.Model:
    """Rescaling + conv + batch norm with non-trivial moving statistics: what freezing folds into constants."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((H, W, 1), name="image")
    x = layers.Rescaling(1 / 255.0)(inputs)
    x = layers.Conv2D(4, 3, padding="same")(x)
    bn = layers.BatchNormalization()
    x = layers.Dense(3)(layers.Flatten()(layers.ReLU()(bn(x))))
    model = keras.Model(inputs, layers.Activation("softmax", dtype="float32", name="predictions")(x))
    rng = np.random.default_rng(seed)
    bn.moving_mean.assign(rng.normal(0, 0.5, 4).astype("float32"))
    bn.moving_variance.assign(rng.uniform(0.2, 3.0, 4).astype("float32"))
    bn.gamma.assign(rng.uniform(0.5, 2.0, 4).astype("float32"))
    bn.beta.assign(rng.normal(0, 0.5, 4).astype("float32"))
    return model


def test_a_frozen_keras_classifier_gives_the_same_probabilities(gray_path, gray_clf):
    model = _conv_bn_model()
    plain = Classifier.from_keras(model, NAMES)
    frozen = Classifier.from_keras(model, NAMES, freeze=True)
    assert frozen._run.frozen and not plain._run.frozen
    rng = np.random.default_rng(2)
    for n in (1, 7, 300):  # any batch size through the same graph
        faces = rng.integers(0, 256, (n, 33, 29), dtype=np.uint8)
        expected = plain.predict(faces)
        np.testing.assert_allclose(frozen.predict(faces), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(frozen.predict(faces[:5], tta=True), plain.predict(faces[:5], tta=True),
                               rtol=1e-5, atol=1e-6)
    # from a file too
    loaded = load_classifier(gray_path, freeze=True)
    assert loaded._run.frozen and loaded.classes == gray_clf.classes
    faces = rng.integers(0, 256, (4, 50, 40, 3), dtype=np.uint8)
    np.testing.assert_allclose(loaded.predict(faces), gray_clf.predict(faces), rtol=1e-5, atol=1e-6)


def test_a_frozen_runtime_holds_a_copy_of_the_weights():
    model = _conv_bn_model(seed=6)
    frozen = Classifier.from_keras(model, NAMES, freeze=True)
    faces = np.random.default_rng(3).integers(0, 256, (6, H, W), dtype=np.uint8)
    before = frozen.predict(faces)
    model.layers[-2].kernel.assign(np.zeros(model.layers[-2].kernel.shape, "float32"))  # uniform output now
    np.testing.assert_allclose(Classifier.from_keras(model, NAMES).predict(faces), 1 / 3, atol=1e-6)
    np.testing.assert_allclose(frozen.predict(faces), before, atol=1e-7)  # documented: later changes are not seen
    np.testing.assert_allclose(Classifier.from_keras(model, NAMES, freeze=True).predict(faces), 1 / 3, atol=1e-6)


def test_predict_rejects_bad_faces(gray_clf):
    with pytest.raises(ValueError, match="face 1"):
        gray_clf.predict([np.zeros((8, 8), np.uint8), np.zeros((8, 8, 2), np.uint8)])
    with pytest.raises(ValueError, match="channel_order"):
        gray_clf.predict([np.zeros((8, 8), np.uint8)], channel_order="hsv")
    with pytest.raises(ValueError, match="batch"):
        gray_clf.predict(np.zeros(8, np.uint8))
    with pytest.raises(ValueError, match="ambiguous"):
        gray_clf.predict(np.zeros((30, 40, 3), np.uint8))


def test_class_names_round_trip(gray_path, gray_clf, tmp_path):
    loaded = keras.saving.load_model(gray_path)  # no custom_objects: the layer is registered
    assert class_names(loaded) == NAMES
    assert loaded.layers[-1].name == "predictions" and isinstance(loaded.layers[-1], LabeledActivation)
    assert gray_clf.classes == NAMES
    # Softmax-terminated models work the same way; attach works in place and returns the model.
    model = _model(1, final="softmax")
    x = np.random.default_rng(2).uniform(0, 255, (2, H, W, 1)).astype("float32")
    before = np.asarray(model(x))
    assert attach_class_names(model, ["x", "y", "z"]) is model
    assert isinstance(model.get_layer("predictions"), LabeledSoftmax)
    np.testing.assert_allclose(np.asarray(model(x)), before, atol=1e-7)
    model.save(tmp_path / "s.keras")
    reloaded = keras.saving.load_model(tmp_path / "s.keras")
    assert class_names(reloaded) == ("x", "y", "z")
    np.testing.assert_allclose(np.asarray(reloaded(x)), before, atol=1e-6)
    # Re-attaching replaces the names.
    attach_class_names(reloaded, ["p", "q", "r"])
    assert class_names(reloaded) == ("p", "q", "r")


def test_class_names_fallbacks_and_errors():
    assert class_names(_model(1, n=7)) == EMOTIONS
    with pytest.warns(UserWarning, match="no class names"):
        assert class_names(_model(1, n=3)) == ("class_0", "class_1", "class_2")
    with pytest.raises(ValueError, match="3 outputs but 2"):
        attach_class_names(_model(1), ["a", "b"])
    with pytest.raises(ValueError, match="unique"):
        attach_class_names(_model(1), ["a", "a", "b"])
    inputs = keras.Input((4,))
    dense = keras.Model(inputs, layers.Dense(3, activation="softmax", name="predictions")(inputs))
    with pytest.warns(UserWarning, match="not stored"):
        attach_class_names(dense, ["a", "b", "c"])


def test_detect_and_predict_finds_the_face_in_the_demo_photo(demo_bgr, gray_clf):
    results = detect_and_predict(demo_bgr, gray_clf)
    assert len(results) == 1
    (x, y, w, h), probs, label = results[0]
    # The face of the portrait is centred near (265, 215) and about 220 pixels wide.
    assert abs(x + w / 2 - 265) < 40 and abs(y + h / 2 - 215) < 40 and 150 < w < 300
    assert probs.shape == (3,) and abs(float(probs.sum()) - 1) < 1e-5 and label == NAMES[int(probs.argmax())]
    # The default (YuNet in photo mode, single images) crop is the face with its eyes levelled, framed like FER2013.
    face = make_detector("yunet", photo=True).detect(demo_bgr)[0]
    assert face.box == (x, y, w, h)
    np.testing.assert_allclose(probs, gray_clf.predict([aligned_crop(demo_bgr, face)])[0], atol=1e-6)
    # RGB and gray versions of the photo find the same face.
    assert detect_faces(demo_bgr[..., ::-1], channel_order="rgb") == detect_faces(demo_bgr)
    assert len(detect_faces(cv2.cvtColor(demo_bgr, cv2.COLOR_BGR2GRAY))) == 1
    assert detect_faces(np.full((240, 320, 3), 128, np.uint8)) == []


@pytest.mark.skipif(not haar_available(), reason=f"OpenCV {cv2.__version__} ships no Haar cascades "
                                                  "(cv2.data.haarcascades): the haar fallback cannot run here")
def test_haar_fallback_crops_the_box_with_a_margin(demo_bgr, gray_clf):
    results = detect_and_predict(demo_bgr, gray_clf, detector="haar")
    assert len(results) == 1
    (x, y, w, h), probs, _ = results[0]
    assert abs(x + w / 2 - 265) < 40 and abs(y + h / 2 - 215) < 40 and 150 < w < 300
    crop = crop_face(demo_bgr, (x, y, w, h), 0.1)
    np.testing.assert_allclose(probs, gray_clf.predict([crop])[0], atol=1e-6)
    assert make_detector("haar").detect(demo_bgr)[0].landmarks is None


def test_draw_predictions(demo_bgr, gray_clf):
    results = detect_and_predict(demo_bgr, gray_clf)
    original = demo_bgr.copy()
    drawn = draw_predictions(demo_bgr, results, gray_clf.classes)
    assert drawn.shape == demo_bgr.shape and drawn.dtype == np.uint8
    np.testing.assert_array_equal(demo_bgr, original)  # input untouched
    x, y, w, h = results[0].box
    changed = np.any(drawn != demo_bgr, axis=-1)
    assert changed[y, x:x + w].mean() > 0.9  # the box's top edge is drawn
    assert changed[:, x + w + 2:].sum() > 500  # the probability panel right of the box
    gray = draw_predictions(cv2.cvtColor(demo_bgr, cv2.COLOR_BGR2GRAY), results, gray_clf.classes)
    assert gray.shape == demo_bgr.shape
    np.testing.assert_array_equal(draw_predictions(demo_bgr, [], gray_clf.classes), demo_bgr)


def test_plot_timeline_has_a_line_per_class_with_gaps():
    probs = np.array([[0.2, 0.3, 0.5], [np.nan] * 3, [0.6, 0.3, 0.1]])
    fig = plot_timeline([0.0, 0.5, 1.0], probs, NAMES)
    lines = fig.axes[0].get_lines()
    assert [ln.get_label() for ln in lines] == list(NAMES)
    assert np.isnan(lines[0].get_ydata()[1])


# --------------------------------------------------------------------------- CLI


def _cli(argv, capsys):
    parser = argparse.ArgumentParser(prog="fer")
    sub = parser.add_subparsers(dest="command", required=True)
    add_predict_parser(sub)
    add_webcam_parser(sub)
    add_export_parser(sub)
    args = parser.parse_args([str(a) for a in argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_predict_cli_writes_annotated_image_csv_and_json(gray_path, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = _cli(["predict", "--model", gray_path, "--out", out_dir], capsys)  # no INPUT: the demo photo
    assert code == 0, err
    annotated = out_dir / "grace_hopper.annotated.jpg"
    assert annotated.is_file() and cv2.imread(str(annotated)).shape == (600, 512, 3)
    rows = (out_dir / "predictions.csv").read_text().splitlines()
    assert rows[0].split(",")[:8] == ["image", "face", "x", "y", "w", "h", "label", "confidence"]
    assert rows[0].split(",")[8:] == [f"p_{c}" for c in NAMES] and len(rows) == 2
    report = json.loads((out_dir / "predictions.json").read_text())
    assert report["classes"] == list(NAMES) and len(report["images"]) == 1
    face = report["images"][0]["faces"][0]
    assert face["label"] in NAMES and abs(sum(face["probabilities"].values()) - 1) < 1e-4
    assert "grace_hopper.jpg: 1 face" in out
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")]  # no temporary files left


def _write_video(path, frames, fps=10.0):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()


def test_predict_cli_on_a_video(gray_path, demo_bgr, tmp_path, capsys):
    small = cv2.resize(demo_bgr, (256, 300), interpolation=cv2.INTER_AREA)
    blank = np.full_like(small, 90)
    video = tmp_path / "clip.mp4"
    _write_video(video, [small, small, blank, blank, small, small])
    code, out, err = _cli(["predict", video, "--model", gray_path, "--out", tmp_path / "o", "--every", "2"], capsys)
    assert code == 0, err
    rows = (tmp_path / "o" / "clip.frames.csv").read_text().splitlines()
    assert rows[0].startswith("frame,time_s,track,face,x,y,w,h,label")
    frames = [r.split(",") for r in rows[1:]]
    assert [int(r[0]) for r in frames] == [0, 2, 4]  # every 2nd frame
    assert [r[3] for r in frames] == ["0", "-1", "0"]  # the blank frame has no face
    assert frames[0][2] == frames[2][2] == "1" and frames[1][2] == ""  # the face keeps its track across the gap
    assert abs(float(frames[1][1]) - 0.2) < 1e-6
    cap = cv2.VideoCapture(str(tmp_path / "o" / "clip.annotated.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    cap.release()
    assert (tmp_path / "o" / "clip.timeline.png").stat().st_size > 1000
    video_report = json.loads((tmp_path / "o" / "predictions.json").read_text())["videos"][0]
    assert video_report["processed_frames"] == 3 and video_report["frames_with_face"] == 2


def test_predict_cli_bad_inputs_fail_cleanly(gray_path, tmp_path, capsys, monkeypatch):
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not an image")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    not_model = tmp_path / "model.keras"
    not_model.write_text("not a model")
    not_tflite = tmp_path / "model.tflite"
    not_tflite.write_bytes(b"\0" * 64)
    cases = [
        (["predict", tmp_path / "missing.jpg", "--model", gray_path], "missing.jpg"),
        (["predict", not_image, "--model", gray_path, "--out", tmp_path / "o1"], "not an image"),
        (["predict", blank, "--model", gray_path, "--out", tmp_path / "o2"], "no face found"),
        (["predict", "--model", not_model, "--out", tmp_path / "o3"], "model.keras"),
        (["predict", "--model", not_tflite, "--out", tmp_path / "o4"], "not a TFLite model"),
        (["predict", "--model", tmp_path / "model.txt"], "not found"),
        (["predict", "--model", gray_path, "--every", "0"], "--every"),
    ]
    for argv, message in cases:
        code, _, err = _cli(argv, capsys)
        assert code == 1 and message in err and err.startswith("fer predict: "), (argv, err)
    monkeypatch.setattr("fer.inference.classifier.DEFAULT_MODEL", tmp_path / "nowhere" / "fer2013_default.keras")
    code, _, err = _cli(["predict", "--out", tmp_path / "o5"], capsys)
    assert code == 1 and "python -m fer train" in err and "--model" in err


def test_predict_cli_no_detect_classifies_whole_crops(gray_clf, gray_path, tmp_path, capsys):
    crops = tmp_path / "crops"
    crops.mkdir()
    faces = np.random.default_rng(5).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    for i, face in enumerate(faces):
        cv2.imwrite(str(crops / f"face{i}.png"), face)
    (crops / "readme.txt").write_text("ignored: not an image extension")
    code, out, err = _cli(["predict", crops, "--no-detect", "--model", gray_path, "--out", tmp_path / "o"], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "predictions.json").read_text())
    assert [len(im["faces"]) for im in report["images"]] == [1, 1]
    assert report["images"][0]["faces"][0]["box"] == [0, 0, 48, 48]
    expected = gray_clf.predict(list(faces))
    got = [[im["faces"][0]["probabilities"][c] for c in NAMES] for im in report["images"]]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_webcam_cli_without_a_camera_fails_cleanly(capsys):
    code, _, err = _cli(["webcam", "--camera", "99"], capsys)
    assert code == 1 and "no camera '99'" in err


def test_webcam_cli_records_from_a_video_source(gray_path, demo_bgr, tmp_path, capsys):
    video = tmp_path / "cam.mp4"
    _write_video(video, [cv2.resize(demo_bgr, (256, 300))] * 4)
    rec = tmp_path / "rec" / "webcam.mp4"
    code, out, err = _cli(["webcam", "--camera", video, "--model", gray_path, "--no-display", "--out", rec,
                           "--max-frames", "3"], capsys)
    assert code == 0, err
    assert "3 frames" in out
    cap = cv2.VideoCapture(str(rec))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    cap.release()


def test_face_result_unpacks_like_a_tuple():
    r = FaceResult((1, 2, 3, 4), np.array([0.1, 0.7, 0.2], np.float32), "glad")
    box, probs, label = r
    assert box == (1, 2, 3, 4) and label == "glad" and r.confidence == pytest.approx(0.7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draw_predictions(np.zeros((50, 60), np.uint8), [r], NAMES)


def test_annotate_is_detect_crop_classify_draw(demo_bgr, gray_clf):
    from fer.inference import annotate

    drawn, faces = annotate(demo_bgr, gray_clf)
    expected = detect_and_predict(demo_bgr, gray_clf)
    assert [f.box for f in faces] == [f.box for f in expected] and len(faces) == 1
    np.testing.assert_allclose(faces[0].probs, expected[0].probs, atol=1e-6)
    np.testing.assert_array_equal(drawn, draw_predictions(demo_bgr, expected, gray_clf.classes))


def test_predict_cli_on_unreadable_files_says_one_line_and_writes_nothing(gray_path, tmp_path, capsys):
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not an image")
    out_dir = tmp_path / "out"
    code, out, err = _cli(["predict", not_image, "--model", gray_path, "--out", out_dir], capsys)
    assert code == 1
    assert err.strip().splitlines() == [err.strip()], err  # one line, no second (wrong) error
    assert err.startswith("fer predict: error: ") and "notes.jpg" in err and "no face found" not in err
    assert not out_dir.exists() or not list(out_dir.iterdir())  # no empty predictions.csv / .json

    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG but truncated")
    code, _, err = _cli(["predict", folder, "--model", gray_path, "--out", out_dir], capsys)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 2 and "skipped" in lines[0] and "a.png" in lines[0], err
    assert "no readable image or video" in lines[1] and str(folder) in lines[1]
    assert not out_dir.exists() or not list(out_dir.iterdir())


def test_a_corrupt_keras_file_is_not_reported_as_missing(tmp_path, capsys):
    from fer.inference import load_keras_model

    not_zip = tmp_path / "model.keras"
    not_zip.write_text("not a model")
    half = tmp_path / "half.keras"
    attach_class_names(_model(1), NAMES).save(tmp_path / "full.keras")
    data = (tmp_path / "full.keras").read_bytes()
    half.write_bytes(data[: len(data) // 2])
    no_config = tmp_path / "empty_zip.keras"
    import zipfile

    with zipfile.ZipFile(no_config, "w") as archive:
        archive.writestr("notes.txt", "hello")
    for path in (not_zip, half, no_config):
        with pytest.raises(ValueError, match="exists but is not a valid Keras file") as info:
            load_keras_model(path)
        assert "not found" not in str(info.value).lower() and str(path) in str(info.value)
        code, _, err = _cli(["predict", "--model", path, "--out", tmp_path / "o"], capsys)
        assert code == 1 and "exists but is not a valid Keras file" in err and "not found" not in err.lower()
        assert len(err.strip().splitlines()) == 1
