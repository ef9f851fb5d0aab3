"""Merging: class mapping, contempt, shapes, provenance, and duplicate removal that keeps evaluation splits intact."""

from __future__ import annotations

import numpy as np
import pytest

from fer.data import Dataset, merge
from fer.data.merge import find_duplicates, harmonize
from fer.labels import EMOTIONS

from .test_hashing import altered, photos


def dataset(images, labels, split, source, classes=EMOTIONS, **kw) -> Dataset:
    n = len(images)
    return Dataset(images, np.asarray(labels), np.asarray(split), np.full(n, source), np.arange(n), classes, **kw)


@pytest.fixture
def planted():
    """Two sources with planted duplicates; returns (a, b) and the row numbers of interest."""
    img = photos(30, seed=11)
    a_imgs = img[:20].copy()
    a_split = ["train"] * 14 + ["val"] * 6
    a_labels = [i % 7 for i in range(20)]
    a_imgs[1] = a_imgs[15]          # train 1 = exact copy of val 15 -> train copy dropped
    a_imgs[2] = a_imgs[3]           # train 2 = exact copy of train 3 -> one dropped within train
    a_labels[2], a_labels[3] = 0, 4  #   ... with conflicting labels
    a_imgs[16] = a_imgs[17]         # val 16 = val 17 -> kept (evaluation split), counted
    b_imgs = img[20:30].copy()
    b_split = ["train"] * 6 + ["test"] * 4
    a_imgs[4] = altered(b_imgs[7])  # a train 4 = near copy of b test 7 -> a's train copy dropped
    a_imgs[18] = b_imgs[8]          # a val 18 = exact copy of b test 8 -> the val copy dropped
    b_labels = [0, 1, 2, 3, 4, 5, 7, 7, 2, 6]  # two contempt rows (7)
    a = dataset(a_imgs, a_labels, a_split, "a")
    b = dataset(b_imgs, b_labels, b_split, "b", classes=EMOTIONS + ("contempt",))
    return a, b


def removed_rows(ds):
    return {(r["source"], r["origin"]): r for r in ds.meta["merge"]["removed"]}


def test_duplicates_across_splits_drop_the_lower_split_copy(planted):
    a, b = planted
    out = merge([a, b], contempt="map:disgust")
    rem = removed_rows(out)
    assert rem[("a", "1")]["reason"] == "train_copy_of_val" and rem[("a", "1")]["kind"] == "exact"
    assert rem[("a", "4")]["reason"] == "train_copy_of_test" and rem[("a", "4")]["kind"] == "near"
    assert rem[("a", "4")]["duplicate_of"] == {"source": "b", "origin": "7", "split": "test", "label": "disgust"}
    assert rem[("a", "18")]["reason"] == "val_copy_of_test"
    assert rem[("a", "3")]["reason"] == "within_split"  # the first copy (row 2) is kept
    assert set(rem) == {("a", "1"), ("a", "4"), ("a", "18"), ("a", "3")}
    report = out.meta["merge"]
    assert report["duplicates_kept_within_eval"] == {"val": 1, "test": 0}
    assert report["removed_across_sources"] == {"a_copy_of_b": 2}
    assert report["rows_in"] == 30 and report["rows_out"] == 26 == len(out)
    # evaluation rows are never removed because of a train copy
    kept = set(zip(out.source.tolist(), out.origin.tolist()))
    assert {("a", "15"), ("b", "7"), ("b", "8"), ("a", "16"), ("a", "17")} <= kept


def test_label_conflicts_are_reported(planted):
    a, b = planted
    out = merge([a, b], contempt="map:disgust")
    conflicts = out.meta["merge"]["conflicts"]
    assert out.meta["merge"]["label_conflicts"] == len(conflicts) >= 1
    labels = {(c["origin"], c["label"]) for group in conflicts for c in group if c["source"] == "a"}
    assert {("2", "angry"), ("3", "sad")} <= labels


def test_dedup_eval_collapses_val_duplicates(planted):
    a, b = planted
    out = merge([a, b], contempt="map:disgust", dedup_eval=True)
    rem = removed_rows(out)
    assert len([k for k in rem if k[1] in ("16", "17")]) == 1
    assert out.meta["merge"]["duplicates_kept_within_eval"] == {"val": 0, "test": 0}


def test_exact_only_and_no_dedup(planted):
    a, b = planted
    exact_only = merge([a, b], contempt="map:disgust", near_threshold=None)
    assert ("a", "4") not in removed_rows(exact_only)  # the near copy stays
    assert len(merge([a, b], contempt="map:disgust", dedup=False)) == 30


def test_contempt_drop_and_map(planted):
    a, b = planted
    dropped = merge([a, b], contempt="drop", dedup=False)
    assert len(dropped) == 28 and dropped.meta["merge"]["sources"]["b"]["dropped_classes"] == {"contempt": 2}
    mapped = merge([a, b], contempt="map:disgust", dedup=False)
    b_rows = mapped.source == "b"
    assert (mapped.labels[b_rows][6:8] == EMOTIONS.index("disgust")).all()
    with pytest.raises(ValueError, match="contempt must be"):
        merge([a, b], contempt="keep")


def test_other_classes_are_dropped_and_reported():
    imgs = photos(4, seed=3)
    ds = dataset(imgs, [0, 1, 0, 1], ["train"] * 4, "p", classes=("pain", "happiness"))
    out, info = harmonize(ds)
    assert info["dropped_classes"] == {"pain": 2} and out.classes == EMOTIONS
    assert (out.labels == EMOTIONS.index("happy")).all() and out.origin.tolist() == ["1", "3"]


def test_common_shape_color_and_provenance():
    rng = np.random.default_rng(0)
    rgb = dataset(rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8), [0, 1, 2], ["train"] * 3, "rgb64")
    gray = dataset(photos(2, size=48), [3, 4], ["val"] * 2, "gray48")
    out = merge([rgb, gray], dedup=False)
    assert out.image_shape == (48, 48, 1) and out.source.tolist() == ["rgb64"] * 3 + ["gray48"] * 2
    assert out.origin.tolist() == ["0", "1", "2", "0", "1"] and out.labels.tolist() == [0, 1, 2, 3, 4]
    big = merge([rgb, gray], dedup=False, size=32, color="rgb")
    assert big.image_shape == (32, 32, 3)


def test_soft_labels_are_mapped_and_completed_with_one_hot():
    imgs = photos(4, seed=5)
    soft = np.array([[0.5, 0, 0, 0, 0, 0, 0, 0.5], [0, 0, 0, 1, 0, 0, 0, 0]], np.float32)
    plus = dataset(imgs[:2], [0, 3], ["train"] * 2, "plus", classes=EMOTIONS + ("contempt",), soft_labels=soft)
    hard = dataset(imgs[2:], [5, 6], ["train"] * 2, "hard")
    out = merge([plus, hard], contempt="drop", dedup=False)
    np.testing.assert_allclose(out.soft_labels[0], np.eye(7)[0])  # contempt mass dropped, renormalised
    np.testing.assert_allclose(out.soft_labels[2:], np.eye(7)[[5, 6]])
    mapped = merge([plus, hard], contempt="map:disgust", dedup=False)
    np.testing.assert_allclose(mapped.soft_labels[0], [0.5, 0.5, 0, 0, 0, 0, 0])


def test_near_copies_inside_grouped_sources_are_not_duplicates():
    img = photos(3, seed=6)
    frames = np.stack([img[0], altered(img[0], 1), img[1], img[2]])  # two near-identical frames of one subject
    ds = dataset(frames, [0, 0, 1, 2], ["train"] * 4, "ck", groups=np.array(["S1", "S1", "S2", "S3"]))
    exact, near = find_duplicates(ds)
    assert len(exact) == 0 and len(near) == 0
    ungrouped = dataset(frames, [0, 0, 1, 2], ["train"] * 4, "wild")
    assert find_duplicates(ungrouped)[1].tolist() == [[0, 1]]


def test_empty_list_rejected():
    with pytest.raises(ValueError, match="at least one"):
        merge([])
