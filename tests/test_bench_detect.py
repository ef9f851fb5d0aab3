"""Detection benchmark and framing calibration: scenes hold their faces where they say; matching is one to one."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer.benchmarks.detect import FRAME, evaluate, make_scene, match, match_crops, paste
from fer.inference import DEMO_IMAGE, make_detector
from fer.inference.alignment import crop_region, region_iou
from fer.studies.framing import _rotated_iou, composite, measure


@pytest.fixture(scope="module")
def demo_face():
    image = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_GRAYSCALE)
    # the demo face framed like FER2013 (calibrated square: centre about (269, 218), side 224)
    return cv2.resize(image[106:330, 157:381], (96, 96), interpolation=cv2.INTER_AREA)


def test_composite_puts_the_face_at_the_reported_square(demo_face):
    rng = np.random.default_rng(0)
    canvas, (x, y, s) = composite(demo_face, rng)
    x, y, s = int(x), int(y), int(s)
    expected = cv2.resize(demo_face, (s, s), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_array_equal(canvas[y:y + s, x:x + s, 0], expected)
    assert canvas.shape[0] > s * 1.6 and canvas.shape[1] > s * 1.6


def test_match_is_greedy_and_one_to_one():
    truth = [{"box": (0, 0, 10, 10)}, {"box": (100, 100, 10, 10)}]
    assert match([(0, 0, 10, 10), (1, 0, 10, 10)], truth) == [True, False]  # two detections, one face
    assert match([(100, 101, 10, 10)], truth) == [False, True]
    assert match([(5, 5, 10, 10)], truth) == [False, False]  # IoU 1/7 < 0.5


def test_paste_and_scenes_stay_inside_the_frame(demo_face):
    scene = np.zeros((*FRAME, 3), np.uint8)
    paste(scene, demo_face, (320, 240), 150, 20)
    ys, xs = np.nonzero(scene[..., 0])
    assert abs(xs.mean() - 320) < 3 and abs(ys.mean() - 240) < 3 and xs.max() - xs.min() > 150  # rotated: wider
    rng = np.random.default_rng(3)
    for _ in range(5):
        image, truth = make_scene(demo_face[None], rng)
        assert image.shape == (*FRAME, 3) and 1 <= len(truth) <= 4
        for t in truth:
            x, y, w, h = t["box"]
            assert 0 <= x and x + w <= FRAME[1] and 0 <= y and y + h <= FRAME[0] and 24 <= t["side"] <= 200


def test_yunet_finds_a_large_upright_pasted_face_and_the_report_adds_up(demo_face):
    scene = np.full((*FRAME, 3), 120, np.uint8)
    paste(scene, demo_face, (320, 240), 180, 0)
    truth = [{"box": (320 - 72, 240 - 72, 144, 144), "side": 180.0, "angle": 0.0,
              "region": ((320, 240), (180, 180), 0.0), "source": "demo"}]
    report = evaluate(make_detector("yunet", max_side=640), [(scene, truth)])
    assert report["recall"] == 1.0 and report["precision"] == 1.0 and report["recall_by_side_px"]["96-200"] == 1.0
    assert report["ms_per_frame_median"] > 0
    framed = report["framed"]
    assert framed["recall"] == 1.0 and framed["median_iou"] > 0.75 and framed["by_source"]["demo"]["faces"] == 1


@pytest.mark.parametrize("angle", [-25.0, 25.0])
def test_the_crop_of_a_turned_face_turns_with_it(demo_face, angle):
    """The landmarks of an upright pasted face, turned the way ``paste`` turns a face, give a crop that
    matches the scene's true region as well as the upright crop matched the upright face: the scene's and the
    crop's angle conventions agree (the other sign would lose overlap)."""
    scene = np.full((*FRAME, 3), 120, np.uint8)
    paste(scene, demo_face, (320, 240), 180, 0.0)
    (upright,) = make_detector("yunet", max_side=640).detect(scene)
    turn = cv2.getRotationMatrix2D((320.0, 240.0), angle, 1.0)
    turned = upright._replace(landmarks=upright.landmarks @ turn[:, :2].T + turn[:, 2])
    square = ((320.0, 240.0), (180.0, 180.0))
    before = region_iou(crop_region(upright), (*square, 0.0))
    (got,) = match_crops([turned], [{"region": (*square, -angle)}])
    assert got == pytest.approx(before, abs=0.02) and got > 0.75
    assert region_iou(crop_region(turned), (*square, angle)) < got - 0.1
    _, truths = make_scene(demo_face[None], np.random.default_rng(0), np.array(["demo"]))
    assert all(t["source"] == "demo" and t["region"][2] == -t["angle"] for t in truths)


def test_crops_are_matched_one_to_one_and_a_box_without_landmarks_is_grown_by_its_margin():
    from fer.inference.detection import Face

    haar = Face((100, 100, 50, 50), None, 1.0)
    assert crop_region(haar) == ((125.0, 125.0), (60.0, 60.0), 0.0)
    truth = [{"region": ((125.0, 125.0), (60.0, 60.0), 0.0)}, {"region": ((400.0, 300.0), (60.0, 60.0), 0.0)}]
    assert match_crops([haar, haar], truth) == [pytest.approx(1.0), None]  # one detection frames one face


def test_measure_recovers_a_framing_and_rotated_iou():
    assert _rotated_iou((5, 5), 10, 0.0, (0, 0, 10)) == pytest.approx(1.0, abs=1e-3)
    assert _rotated_iou((10, 5), 10, 0.0, (0, 0, 10)) == pytest.approx(1 / 3, abs=1e-3)
    image = cv2.imread(str(DEMO_IMAGE), cv2.IMREAD_GRAYSCALE)
    faces = np.stack([cv2.resize(image[80:400, 106:426], (48, 48), interpolation=cv2.INTER_AREA)] * 3)
    m = measure(faces, make_detector("yunet", max_side=None), np.random.default_rng(0))
    assert np.isfinite(m["scale"]).all()
    # the same face at three sizes and places: the measured framing relative to the eyes barely moves
    assert np.ptp(m["scale"]) / np.mean(m["scale"]) < 0.1 and np.ptp(m["dy"]) < 0.1
