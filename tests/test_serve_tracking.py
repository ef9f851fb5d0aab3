"""The IoU tracker: ids survive motion and reordering, new objects get new ids, lost tracks expire."""

from __future__ import annotations

import numpy as np
import pytest

from fer.inference.tracking import IoUTracker, iou


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_a_moving_box_keeps_its_id_and_counts_hits():
    t = IoUTracker()
    ids = [t.update([(100 + 5 * i, 50, 80, 80)])[0] for i in range(5)]
    assert len({tr.id for tr in ids}) == 1
    assert ids[-1].hits == 5 and ids[-1].box == (120, 50, 80, 80)


def test_reordered_boxes_keep_their_ids_and_results_follow_input_order():
    t = IoUTracker()
    a, b = (0, 0, 50, 50), (200, 0, 50, 50)
    first = t.update([a, b])
    second = t.update([(202, 1, 50, 50), (1, 1, 50, 50)])
    assert [tr.id for tr in second] == [first[1].id, first[0].id]


def test_new_object_gets_a_new_id_and_lost_tracks_expire():
    t = IoUTracker(max_missed=2)
    old = t.update([(0, 0, 50, 50)])[0].id
    new = t.update([(300, 300, 50, 50)])[0].id
    assert new != old and len(t.tracks) == 2
    t.update([])
    t.update([])
    assert [tr.id for tr in t.tracks] == [new]  # old missed 3 frames (> max_missed), new only 2
    t.update([])
    assert t.tracks == []
    again = t.update([(0, 0, 50, 50)])[0].id
    assert again not in (old, new)


def test_a_track_survives_a_short_gap():
    t = IoUTracker(max_missed=2)
    first = t.update([(10, 10, 60, 60)])[0].id
    t.update([])
    t.update([])
    assert t.update([(12, 10, 60, 60)])[0].id == first


def test_one_box_cannot_take_two_tracks():
    t = IoUTracker()
    t.update([(0, 0, 100, 100), (10, 0, 100, 100)])
    out = t.update([(5, 0, 100, 100)])
    assert len(out) == 1 and len(t.tracks) == 2  # the other track is kept as missed


def test_smooth_is_a_running_average_per_track():
    t = IoUTracker()
    tr = t.update([(0, 0, 50, 50)])[0]
    assert np.allclose(tr.smooth("p", [1.0, 0.0]), [1.0, 0.0])
    assert np.allclose(tr.smooth("p", [0.0, 1.0], alpha=0.25), [0.75, 0.25])
    with pytest.raises(ValueError, match="alpha"):
        tr.smooth("p", [0.0, 1.0], alpha=0.0)


def test_bad_settings():
    with pytest.raises(ValueError, match="min_iou"):
        IoUTracker(min_iou=0)
    with pytest.raises(ValueError, match="max_missed"):
        IoUTracker(max_missed=-1)
