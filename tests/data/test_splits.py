"""Carving a validation split and re-splitting: stratified, seeded, grouped by subject, never from test."""

import numpy as np
import pytest

from fer.data import make_synthetic
from fer.data.dataset import Dataset
from fer.data.splits import carve_validation, resplit


@pytest.fixture(scope="module")
def no_val():
    return make_synthetic(n_per_class=40, seed=0, splits=(0.8, 0.0, 0.2))


def test_carved_validation_is_stratified_seeded_and_never_from_test(no_val):
    carved = carve_validation(no_val, 0.25, seed=3)
    assert "val" in carved.splits()
    assert np.array_equal(carved.split == "test", no_val.split == "test")  # test untouched
    train_counts = np.bincount(no_val.labels[no_val.split == "train"], minlength=7)
    val_counts = np.bincount(carved.labels[carved.split == "val"], minlength=7)
    assert np.all(np.abs(val_counts - 0.25 * train_counts) <= 1)  # every class keeps its share
    again = carve_validation(no_val, 0.25, seed=3)
    assert np.array_equal(again.split, carved.split)
    other = carve_validation(no_val, 0.25, seed=4)
    assert not np.array_equal(other.split, carved.split)
    rows = carved.meta["carved_validation"]["rows"]
    assert sorted(rows) == np.flatnonzero(carved.split == "val").tolist()


def test_carving_keeps_each_subject_on_one_side(no_val):
    groups = np.array([f"S{i // 5:03d}" for i in range(len(no_val))])
    ds = Dataset(no_val.images, no_val.labels, no_val.split, no_val.source, no_val.origin, no_val.classes,
                 None, groups, dict(no_val.meta))
    carved = carve_validation(ds, 0.2, seed=0)
    for g in np.unique(groups[ds.split == "train"]):
        assert len(set(carved.split[(groups == g) & (ds.split == "train")])) == 1


@pytest.mark.parametrize("fraction", [0.0, -0.1, 0.6])
def test_a_fraction_outside_the_range_is_refused(no_val, fraction):
    with pytest.raises(ValueError, match=r"--val-split .* \(0, 0.5\]"):
        carve_validation(no_val, fraction)


def test_a_dataset_with_validation_is_not_carved():
    with pytest.raises(ValueError, match="already has a 'val' split"):
        carve_validation(make_synthetic(n_per_class=5))


def test_resplit_gives_the_asked_fractions_per_class(no_val):
    ds = resplit(no_val, (0.7, 0.1, 0.2), seed=0)
    for c in range(7):
        in_class = ds.labels == c
        counts = {s: int(((ds.split == s) & in_class).sum()) for s in ("train", "val", "test")}
        assert abs(counts["test"] - 8) <= 1 and abs(counts["val"] - 4) <= 1
    assert ds.meta["resplit"]["fractions"] == [0.7, 0.1, 0.2]
    with pytest.raises(ValueError, match="sum to 1"):
        resplit(no_val, (0.7, 0.2, 0.2))
