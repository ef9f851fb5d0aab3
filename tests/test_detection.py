"""Faces in the wild: YuNet (default; one pass and photo mode) and Haar detectors, alignment, framing constants,
tracking in video, bad input."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
from keras import layers

import fer.inference.detection as detection
from fer.benchmarks.detect import FRAME, paste
from fer.class_names import attach_class_names
from fer.cli.predict import add_predict_parser, add_webcam_parser
from fer.inference import (
    BOX_FRAMING,
    DEMO_IMAGE,
    FRAMING,
    Face,
    FaceResult,
    IoUTracker,
    YuNetDetector,
    aligned_crop,
    detect_and_predict,
    haar_available,
    load_classifier,
    make_detector,
)
from fer.inference.alignment import eye_geometry
from fer.inference.detection import PHOTO_SETTINGS, merge_faces
from fer.inference.pipeline import resolve_detector
from fer.inference.video import plot_tracks, track_and_smooth

NAMES = ("calm", "glad", "mad")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_bgr():
    return cv2.imread(str(DEMO_IMAGE))


@pytest.fixture(scope="module")
def demo_face():
    """The demo photo's face framed like FER2013 (as tests/test_bench_detect.py frames it), 96 x 96 gray."""
    image = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(image[106:330, 157:381], (96, 96), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def photo_detector():
    return make_detector("yunet", photo=True)


def _scene(face, *placed: tuple[tuple[float, float], float, float]) -> np.ndarray:
    """A flat 640x480 scene with ``face`` pasted at each ``(centre, side, angle)``."""
    scene = np.full((*FRAME, 3), 120, np.uint8)
    for centre, side, angle in placed:
        paste(scene, face, centre, side, angle)
    return scene


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((20, 24, 1), name="image")
    x = layers.Dense(3)(layers.Flatten()(layers.Rescaling(1 / 255.0)(inputs)))
    model = keras.Model(inputs, layers.Activation("softmax", dtype="float32", name="predictions")(x))
    path = tmp_path_factory.mktemp("m") / "tiny.keras"
    attach_class_names(model, NAMES).save(path)
    return path


@pytest.fixture(scope="module")
def clf(model_path):
    return load_classifier(model_path)


def _cli(argv, capsys):
    parser = argparse.ArgumentParser(prog="fer")
    sub = parser.add_subparsers(dest="command", required=True)
    add_predict_parser(sub)
    add_webcam_parser(sub)
    args = parser.parse_args([str(a) for a in argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


# --------------------------------------------------------------------------- YuNet


def test_yunet_finds_the_demo_face_with_five_landmarks(demo_bgr):
    faces = YuNetDetector().detect(demo_bgr)
    assert len(faces) == 1
    face = faces[0]
    x, y, w, h = face.box
    assert abs(x + w / 2 - 265) < 40 and abs(y + h / 2 - 215) < 40 and 120 < w < 300
    assert face.landmarks.shape == (5, 2) and 0.6 <= face.score <= 1
    (ex0, ey0), (ex1, ey1), nose, mouth_r, mouth_l = face.landmarks
    assert ex0 < nose[0] < ex1 and max(ey0, ey1) < nose[1] < min(mouth_r[1], mouth_l[1])  # eyes, nose, mouth
    assert all(x <= px <= x + w and y <= py <= y + h for px, py in face.landmarks)


def test_non_finite_rows_and_boxes_outside_the_frame_are_dropped(demo_bgr):
    det = YuNetDetector(max_side=None)
    good = [100, 100, 80, 90, *[120, 130, 160, 130, 140, 150, 125, 170, 155, 170], 0.9]
    nan = [np.nan, 100, 80, 90, *[120] * 10, 0.9]
    inf = [50, 50, np.inf, 90, *[60] * 10, 0.9]
    outside = [900, 900, 50, 50, *[910] * 10, 0.9]

    class Fake:
        def setInputSize(self, size):
            pass

        def detect(self, image):
            return 1, np.array([nan, good, inf, outside], np.float32)

    det._net = Fake()
    faces = det.detect(demo_bgr)
    assert [f.box for f in faces] == [(100, 100, 80, 90)]
    assert np.all(np.isfinite(faces[0].landmarks))


def test_missing_or_corrupt_model_file_says_so_in_one_line(tmp_path, monkeypatch, model_path, capsys):
    missing = tmp_path / "gone.onnx"
    monkeypatch.setattr(detection, "YUNET_MODEL", missing)
    with pytest.raises(FileNotFoundError, match="gone.onnx is missing") as info:
        YuNetDetector()
    assert "\n" not in str(info.value) and "--detector haar" in str(info.value)
    corrupt = tmp_path / "bad.onnx"
    data = bytearray(Path(detection.__file__).resolve().parents[1].joinpath("assets", "yunet_s_640_640.onnx")
                     .read_bytes())
    corrupt.write_bytes(bytes(data[: len(data) // 2]))  # a truncated copy
    monkeypatch.setattr(detection, "YUNET_MODEL", corrupt)
    with pytest.raises(ValueError, match="bad.onnx is corrupt"):
        YuNetDetector()
    # a user-given model that is not ONNX at all: a clear error, not an OpenCV trace
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="could not load a YuNet model from"):
        YuNetDetector(junk)
    # the CLI: one line, nothing written
    out_dir = tmp_path / "out"
    code, _, err = _cli(["predict", "--model", model_path, "--out", out_dir], capsys)
    assert code == 1 and err.startswith("fer predict: error: ") and "bad.onnx is corrupt" in err
    assert len(err.strip().splitlines()) == 1 and not out_dir.exists()


def test_make_detector_names_and_settings():
    assert isinstance(make_detector(), YuNetDetector)
    assert make_detector("yunet", live=True).max_side == 320
    assert make_detector("yunet", scale_factor=1.3, max_side=400).max_side == 400  # Haar-only settings ignored
    with pytest.raises(ValueError, match="unknown detector 'dlib'; choose one of yunet, haar"):
        make_detector("dlib")
    with pytest.raises(ValueError, match="max_side"):
        make_detector("yunet", max_side=10)


# --------------------------------------------------------------------------- YuNet photo mode


def test_photo_mode_finds_a_face_rotated_25_degrees_that_one_pass_misses(demo_face, photo_detector):
    scene = _scene(demo_face, ((300, 260), 80, 25))
    assert make_detector("yunet").detect(scene) == []  # the fast mode misses it
    face, = photo_detector.detect(scene)
    x, y, w, h = face.box
    assert abs(x + w / 2 - 300) < 8 and abs(y + h / 2 - 260) < 8 and 0.6 * 80 < w < 1.0 * 80
    # the rotated passes matter: at 35 degrees the same pyramid upright only finds nothing, with them one face
    tilted = _scene(demo_face, ((320, 240), 160, 35))
    upright_only = detection.YuNetDetector(**{**PHOTO_SETTINGS["yunet"], "rotations": (0.0,)})
    assert upright_only.detect(tilted) == [] and len(photo_detector.detect(tilted)) == 1


@pytest.mark.parametrize("side", [80, 160])
@pytest.mark.parametrize("angle", [25, -25])
def test_photo_mode_maps_boxes_and_landmarks_back_onto_the_rotated_face(demo_face, photo_detector, side, angle):
    centre = (300, 260)
    upright, = photo_detector.detect(_scene(demo_face, (centre, side, 0)))
    face, = photo_detector.detect(_scene(demo_face, (centre, side, angle)))
    # where the upright face's landmarks go when the face is rotated by `angle` about its centre
    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
    expected = upright.landmarks @ matrix[:, :2].T + matrix[:, 2]
    _, d, _ = eye_geometry(upright.landmarks)
    error = np.hypot(*(face.landmarks - expected).T) / d
    assert error.max() < 0.25 and error.mean() < 0.15, error  # unmapped (or mapped the wrong way): ~0.4-0.9 d
    _, _, eye_angle = eye_geometry(face.landmarks)
    assert abs(math.degrees(eye_angle) + angle) < 7  # the eye line follows the face (image y points down)
    # the box: the upright box's size around the mapped centre, so the landmarks sit inside it
    (ux, uy, uw, uh), (x, y, w, h) = upright.box, face.box
    ucx, ucy = matrix @ (ux + uw / 2, uy + uh / 2, 1.0)
    assert abs(x + w / 2 - ucx) < 0.1 * side and abs(y + h / 2 - ucy) < 0.1 * side
    assert abs(w / uw - 1) < 0.15 and abs(h / uh - 1) < 0.15
    assert all(x <= px <= x + w and y <= py <= y + h for px, py in face.landmarks[:3])  # eyes and nose


def test_photo_mode_keeps_one_box_per_face(demo_face, photo_detector):
    placed = (((150, 150), 120, 0), ((470, 300), 110, -25))
    scene = _scene(demo_face, *placed)
    passes = [detection.YuNetDetector(**{**PHOTO_SETTINGS["yunet"], "rotations": (a,)}).detect(scene)
              for a in PHOTO_SETTINGS["yunet"]["rotations"]]
    assert sum(len(p) for p in passes) > 2  # the passes find the faces more than once ...
    faces = photo_detector.detect(scene)
    assert len(faces) == 2  # ... merged: one box per face
    for (cx, cy), side, _ in placed:
        near = [f for f in faces if abs(f.box[0] + f.box[2] / 2 - cx) < side / 4 and
                abs(f.box[1] + f.box[3] / 2 - cy) < side / 4]
        assert len(near) == 1


def test_merge_faces_keeps_the_best_score_of_overlapping_boxes():
    marks = np.zeros((5, 2), np.float32)
    a, b = Face((0, 0, 100, 100), marks, 0.7), Face((5, 5, 100, 100), marks + 1, 0.9)
    c = Face((300, 0, 100, 100), marks, 0.65)
    assert merge_faces([a, c, b], 0.3) == [b, c]
    assert merge_faces([a, b], 0.95) == [b, a]  # IoU 0.82: both kept above it


def test_photo_mode_pyramid_levels_and_large_faces(demo_bgr, photo_detector):
    assert photo_detector.scales((480, 640, 3)) == [3.0, 0.75, 0.1875]  # 16 px faces -> 48 px, then 4x smaller
    assert photo_detector.scales((4000, 6000))[0] == pytest.approx(1920 / 6000)  # never beyond max_side
    assert make_detector("yunet").scales((480, 640)) == [1.0] and make_detector("yunet").scales((1280, 960)) == [0.5]
    # the demo face (213 px) would be 640 px at 3x, where YuNet's eyes drift and a false face appears:
    # the pyramid takes it from the 0.75x level; one face, landmarks where the one-pass detector puts them
    fast, = make_detector("yunet").detect(demo_bgr)
    face, = photo_detector.detect(demo_bgr)
    _, d, _ = eye_geometry(fast.landmarks)
    assert np.hypot(*(face.landmarks - fast.landmarks).T).max() < 0.15 * d
    assert face.landmarks.dtype == np.float32 and face.landmarks.shape == (5, 2)


def test_photo_mode_bad_arguments_are_one_line_errors():
    for rotations, what in [((), "rotations"), ((0, 0), "distinct"), ((0, 90), "-60..60"), (("up",), "angles"),
                            ((0, float("nan")), "-60..60"), (5, "sequence")]:
        with pytest.raises(ValueError, match=what) as info:
            detection.YuNetDetector(rotations=rotations)
        assert "\n" not in str(info.value) and "rotations" in str(info.value)
    with pytest.raises(ValueError, match="nms_threshold must be in"):
        detection.YuNetDetector(nms_threshold=1.5)
    with pytest.raises(ValueError, match="min_face must be at least 1"):
        detection.YuNetDetector(min_face=0, pyramid=True)
    with pytest.raises(ValueError, match="live=True or photo=True, not both"):
        make_detector("yunet", live=True, photo=True)


def test_single_images_get_photo_mode_and_live_paths_the_fast_one(model_path, tmp_path, capsys):
    assert resolve_detector(None).photo and resolve_detector("yunet").photo
    assert not resolve_detector(None, photo=False).photo and not make_detector("yunet", live=True).photo
    assert make_detector("yunet", photo=True).rotations == (-25.0, 0.0, 25.0)
    if haar_available():
        assert make_detector("haar", photo=True).max_side == 400  # Haar's photo settings are its defaults
    from fer.cli.predict import _detector_from

    parser = argparse.ArgumentParser(prog="fer")
    sub = parser.add_subparsers(dest="command", required=True)
    add_predict_parser(sub)
    add_webcam_parser(sub)
    webcam = parser.parse_args(["webcam"])
    assert not _detector_from(webcam, live=True).photo and _detector_from(webcam, live=True).max_side == 320
    for extra, photo in (([], True), (["--fast-detect"], False)):
        code, _, err = _cli(["predict", "--model", model_path, "--out", tmp_path / str(photo), *extra], capsys)
        assert code == 0, err
        assert json.loads((tmp_path / str(photo) / "predictions.json").read_text())["photo_mode"] is photo
    code, _, err = _cli(["predict", "--model", model_path, "--min-face", "0", "--out", tmp_path / "x"], capsys)
    assert code == 1 and "--min-face must be at least 1" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- Haar


def test_haar_on_an_opencv_without_cascades_is_a_clear_error(tmp_path, monkeypatch, model_path, capsys):
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path) + "/", raising=False)
    assert not haar_available()
    with pytest.raises(FileNotFoundError, match="ships no Haar cascades") as info:
        make_detector("haar")
    assert "--detector yunet" in str(info.value)
    code, _, err = _cli(["predict", "--detector", "haar", "--model", model_path, "--out", tmp_path / "o"], capsys)
    assert code == 1 and "ships no Haar cascades" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not haar_available(), reason=f"OpenCV {cv2.__version__} ships no Haar cascades "
                                                  "(cv2.data.haarcascades is empty): nothing to compare YuNet with")
def test_haar_and_yunet_agree_on_the_demo_face(demo_bgr):
    (hx, hy, hw, hh), = make_detector("haar")(demo_bgr)
    (yx, yy, yw, yh), = make_detector("yunet")(demo_bgr)
    assert abs((hx + hw / 2) - (yx + yw / 2)) < 30 and abs((hy + hh / 2) - (yy + yh / 2)) < 40


# --------------------------------------------------------------------------- alignment and framing


def test_aligned_crop_levels_the_eyes_and_frames_them_as_calibrated():
    image = np.zeros((400, 400), np.uint8)
    angle = math.radians(25)
    mid, d = np.array([200.0, 180.0]), 60.0
    u = np.array([math.cos(angle), math.sin(angle)]) * d / 2
    eyes = [mid - u, mid + u]
    for e in eyes:
        cv2.circle(image, tuple(int(round(v * 16)) for v in e), 48, 255, -1, cv2.LINE_AA, shift=4)  # sub-pixel
    marks = np.array([*eyes, mid + [0, 30], mid + [-20, 60], mid + [20, 60]], np.float32)
    crop = aligned_crop(image, Face((150, 130, 100, 120), marks, 0.9), size=200)
    assert crop.shape == (200, 200)
    ys, xs = np.nonzero(crop > 128)
    left, right = xs < 100, xs >= 100
    assert abs(ys[left].mean() - ys[right].mean()) < 1.5  # the eyes are level (25 degrees the wrong way: 60 px)
    scale = 200 / (FRAMING["scale"] * d)
    assert abs((xs[right].mean() - xs[left].mean()) - d * scale) < 2  # and d apart, as calibrated
    assert abs(ys.mean() - (100 - FRAMING["dy"] * d * scale)) < 2
    assert abs(xs.mean() - (100 - FRAMING["dx"] * d * scale)) < 2
    with pytest.raises(ValueError, match="landmarks"):
        aligned_crop(image, Face((0, 0, 10, 10), None, 1.0))


def test_a_box_framed_crop_takes_its_square_from_the_box_and_its_angle_from_the_eyes():
    from fer.inference.alignment import BOX_FRAMING, crop_region, face_square

    mid, angle = np.array([200.0, 180.0]), math.radians(-20)
    u = np.array([math.cos(angle), math.sin(angle)]) * 30
    marks = np.array([mid - u, mid + u, mid + [0, 30], mid + [-20, 60], mid + [20, 60]], np.float32)
    face = Face((140, 120, 100, 110), marks, 0.9)
    centre, side, got = face_square(face, "box")
    assert side == pytest.approx(BOX_FRAMING["scale"] * 100) and got == pytest.approx(angle)
    assert np.allclose(centre, [190 + BOX_FRAMING["dx"] * 100, 175 + BOX_FRAMING["dy"] * 110])
    assert crop_region(face, square_from="box")[1:] == ((side, side), pytest.approx(-20.0))
    image = np.zeros((400, 400), np.uint8)
    image[170:181, 185:196] = 255  # a bright patch at the box framing's centre: the crop's centre
    crop = aligned_crop(image, face, square_from="box", size=128)
    ys, xs = np.nonzero(crop > 128)
    assert abs(xs.mean() - 64) < 4 and abs(ys.mean() - 64) < 4
    with pytest.raises(ValueError, match="square_from"):
        face_square(face, "nose")


def test_framing_constants_are_the_committed_measurement():
    path = ROOT / "results" / "framing_calibration.json"
    if not path.is_file():
        pytest.skip("results/framing_calibration.json not present (run python -m fer.inference.calibrate_framing)")
    report = json.loads(path.read_text())
    assert report["framing"] == FRAMING and "calibrate_framing" in report["command"]
    assert report["box_framing"] == BOX_FRAMING
    assert report["held_out_residuals"]["eye_framing_iou"]["median"] > 0.6


def test_eye_geometry():
    mid, d, angle = eye_geometry(np.array([[0, 0], [10, 10], [5, 8], [0, 15], [10, 15]], np.float32))
    assert np.allclose(mid, [5, 5]) and d == pytest.approx(math.hypot(10, 10)) and angle == pytest.approx(math.pi / 4)


# --------------------------------------------------------------------------- bad input


def test_no_face_tiny_and_huge_images(demo_bgr, clf):
    assert detect_and_predict(np.full((240, 320, 3), 128, np.uint8), clf) == []
    assert detect_and_predict(np.zeros((1, 1, 3), np.uint8), clf) == []
    assert detect_and_predict(np.zeros((1, 1), np.uint8), clf) == []
    huge = np.full((4000, 6000, 3), 100, np.uint8)
    big = cv2.resize(demo_bgr, (1536, 1800))
    huge[1000:2800, 2000:3536] = big
    found = detect_and_predict(huge, clf)
    assert len(found) == 1
    x, y, w, h = found[0].box
    assert 2000 < x + w / 2 < 3536 and 1000 < y + h / 2 < 2800 and w > 300
    with pytest.raises(ValueError, match="image must be"):
        detect_and_predict(np.zeros((0, 5, 3), np.uint8), clf)


def test_cli_on_a_1x1_image_and_a_faceless_image_one_line_each(model_path, tmp_path, capsys):
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.zeros((1, 1, 3), np.uint8))
    code, _, err = _cli(["predict", tiny, "--model", model_path, "--out", tmp_path / "o"], capsys)
    lines = err.strip().splitlines()
    assert code == 1 and "no face found in" in lines[0] and "no face found in any input" in lines[-1]
    assert not [p for p in (tmp_path / "o").iterdir() if p.name.startswith(".")]  # no temporary leftovers


# --------------------------------------------------------------------------- tracking and smoothing


def test_track_and_smooth_is_an_exponential_moving_average_per_face():
    tracker = IoUTracker()
    a = FaceResult((0, 0, 50, 50), np.array([1.0, 0.0, 0.0], np.float32), "calm")
    b = FaceResult((200, 0, 50, 50), np.array([0.0, 0.0, 1.0], np.float32), "mad")
    first, ids1 = track_and_smooth(tracker, [a, b], NAMES, 0.25)
    a2 = FaceResult((2, 0, 50, 50), np.array([0.0, 1.0, 0.0], np.float32), "glad")
    b2 = FaceResult((202, 0, 50, 50), np.array([0.0, 1.0, 0.0], np.float32), "glad")
    second, ids2 = track_and_smooth(tracker, [b2, a2], NAMES, 0.25)  # reordered: ids follow the faces
    assert ids2 == [ids1[1], ids1[0]]
    np.testing.assert_allclose(second[1].probs, [0.75, 0.25, 0.0])
    np.testing.assert_allclose(second[0].probs, [0.0, 0.25, 0.75])
    assert second[1].label == "calm"  # the label follows the smoothed probabilities
    fig = plot_tracks([(ids1[0], 0.0, 0, 0.9), (ids1[1], 0.0, 2, 0.8), (ids1[0], 0.1, 0, 0.7)], NAMES, [0.0, 0.1])
    assert [ln.get_label() for ln in fig.axes[0].get_lines()] == [f"face {ids1[0]}", f"face {ids1[1]}"]


def _two_face_video(path: Path, demo_bgr, frames: int = 5) -> None:
    face = cv2.resize(demo_bgr, (200, 234), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (560, 300))
    for i in range(frames):
        frame = np.full((300, 560, 3), 90, np.uint8)
        frame[20:254, 20 + 3 * i:220 + 3 * i] = face
        frame[40:274, 330 - 3 * i:530 - 3 * i] = face
        writer.write(frame)
    writer.release()


def test_video_rows_have_one_track_per_face_and_the_timeline_one_line_per_track(model_path, demo_bgr, tmp_path,
                                                                               capsys):
    video = tmp_path / "two.mp4"
    _two_face_video(video, demo_bgr)
    code, _, err = _cli(["predict", video, "--model", model_path, "--out", tmp_path / "o", "--smooth", "0.3"], capsys)
    assert code == 0, err
    rows = [r.split(",") for r in (tmp_path / "o" / "two.frames.csv").read_text().splitlines()]
    assert rows[0][:4] == ["frame", "time_s", "track", "face"]
    body = rows[1:]
    assert len(body) == 10  # 5 frames x 2 faces
    by_track: dict[str, list[float]] = {}
    for r in body:
        by_track.setdefault(r[2], []).append(float(r[4]))  # x of the box
    assert len(by_track) == 2 and all(len(v) == 5 for v in by_track.values())
    moves = sorted(np.sign(np.diff(v)).sum() for v in by_track.values())
    assert moves[0] < 0 < moves[1]  # one face moves left, the other right: each track follows one face
    report = json.loads((tmp_path / "o" / "predictions.json").read_text())["videos"][0]
    assert report["tracks"] == 2 and report["smooth"] == 0.3


def test_smooth_must_be_a_weight(model_path, capsys, tmp_path):
    code, _, err = _cli(["predict", "--model", model_path, "--smooth", "0", "--out", tmp_path / "o"], capsys)
    assert code == 1 and "--smooth must be in (0, 1]" in err


def test_fer_serve_tracking_is_the_inference_tracker():
    from fer.inference import tracking
    from fer.serve import tracking as serve_tracking

    assert serve_tracking.IoUTracker is tracking.IoUTracker and serve_tracking.iou is tracking.iou


def test_the_shipped_model_file_matches_its_attribution():
    text = (ROOT / "fer" / "assets" / "ATTRIBUTION.md").read_text()
    assert detection.YUNET_SHA256 in text and "Apache" in text
    assert detection.sha256_of(detection.YUNET_MODEL) == detection.YUNET_SHA256
    assert (detection.YUNET_MODEL.parent / "yunet.LICENSE").is_file()


def test_track_ids_are_drawn_before_the_label():
    from fer.inference import draw_predictions

    image = np.full((200, 300, 3), 60, np.uint8)
    r = FaceResult((40, 60, 80, 80), np.array([0.2, 0.7, 0.1], np.float32), "glad")
    plain = draw_predictions(image, [r], NAMES, bars=False)
    tracked = draw_predictions(image, [r], NAMES, bars=False, tracks=[7])
    label_row = slice(0, 60)  # the label sits above the box
    assert (tracked[label_row] != plain[label_row]).any() and (tracked[60:] == plain[60:]).all()


def test_a_plain_box_callable_still_works_as_a_detector(demo_bgr, clf):
    boxes = [(180, 120, 170, 210)]
    found = detect_and_predict(demo_bgr, clf, detector=lambda image, order: boxes)
    assert [f.box for f in found] == boxes
    expected = clf.predict([demo_bgr[99:351, 163:367]])[0]  # box + 10% margin
    np.testing.assert_allclose(found[0].probs, expected, atol=1e-6)
