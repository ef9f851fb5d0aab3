"""CK+ reader (subjects from file names) and splitting by subject."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fer.data import DataError, load_ckplus, split_by_group, write_synthetic
from fer.data.ckplus import CKPLUS_CLASSES
from fer.labels import EMOTIONS


@pytest.fixture
def ck_root(tmp_path):
    return write_synthetic(tmp_path, "ckplus", n_per_class=8, size=16, seed=2)


def test_synthetic_ckplus_subjects_and_classes(ck_root):
    ds = load_ckplus(ck_root)
    assert ds.classes == CKPLUS_CLASSES and ds.classes[:7] == EMOTIONS
    assert ds.counts()["neutral"] == 0 and ds.counts()["contempt"] == 8 and ds.counts()["angry"] == 8
    for origin, group, seq in zip(ds.origin, ds.groups, ds.meta["sequences"]):
        name = origin.split("/")[1]
        assert name.startswith(f"{group}_") and seq == name[: len(seq)] and re.fullmatch(r"S\d{3}", group)
    assert set(ds.source) == {"ckplus"} and ds.splits() == ["train"]


def test_parent_folder_is_accepted(ck_root):
    assert len(load_ckplus(ck_root.parent)) == len(load_ckplus(ck_root))


def test_seven_class_reading_needs_skip_for_contempt(ck_root):
    with pytest.raises(DataError, match="contempt"):
        load_ckplus(ck_root, classes=EMOTIONS)
    with pytest.warns(UserWarning):
        ds = load_ckplus(ck_root, classes=EMOTIONS, on_error="skip")
    assert ds.classes == EMOTIONS and len(ds) == 6 * 8


def test_file_name_without_subject(ck_root):
    first = sorted((ck_root / "anger").iterdir())[0]
    first.rename(ck_root / "anger" / "face.png")
    with pytest.raises(DataError, match=r"face\.png: file name does not follow S<subject>"):
        load_ckplus(ck_root)
    with pytest.warns(UserWarning, match="face.png"):
        ds = load_ckplus(ck_root, on_error="skip")
    assert len(ds) == 7 * 8 - 1 and len(ds.groups) == len(ds) and len(ds.meta["sequences"]) == len(ds)


def test_split_by_group_keeps_subjects_together_and_is_deterministic(ck_root):
    ds = load_ckplus(ck_root)
    a = split_by_group(ds, val=0.2, test=0.2, seed=1)
    b = split_by_group(ds, val=0.2, test=0.2, seed=1)
    np.testing.assert_array_equal(a.split, b.split)
    for group in np.unique(a.groups):
        assert len(set(a.split[a.groups == group])) == 1
    assert a.splits() == ["train", "val", "test"]
    groups = a.meta["split_by_group"]["groups"]
    assert sum(map(len, groups.values())) == len(np.unique(ds.groups))
    np.testing.assert_array_equal(a.images, ds.images)  # rows unchanged, only the split
    c = split_by_group(ds, val=0.2, test=0.2, seed=2)
    assert not np.array_equal(a.split, c.split)


def test_split_by_group_errors(ck_root):
    ds = load_ckplus(ck_root)
    with pytest.raises(ValueError, match="fractions"):
        split_by_group(ds, val=0.6, test=0.5)
    ds.groups = None
    with pytest.raises(ValueError, match="no groups"):
        split_by_group(ds)


# ---------------------------------------------------------------- real data


def test_real_ckplus_counts_per_folder(shared_data):
    ds = load_ckplus(shared_data / "ckplus" / "CK+48")
    assert ds.image_shape == (48, 48, 1)
    folders = {}
    for origin in ds.origin:
        folder = origin.split("/")[0]
        folders[folder] = folders.get(folder, 0) + 1
    assert folders == {"anger": 135, "contempt": 54, "disgust": 177, "fear": 75, "happy": 207, "sadness": 84,
                       "surprise": 249}
    assert ds.counts()["angry"] == 135 and ds.counts()["sad"] == 84  # mapped by name
    split = split_by_group(ds, val=0.15, test=0.15, seed=0)
    fractions = {s: float((split.split == s).mean()) for s in ("train", "val", "test")}
    assert abs(fractions["val"] - 0.15) < 0.05 and abs(fractions["test"] - 0.15) < 0.05
    for s1, s2 in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not set(split.groups[split.split == s1]) & set(split.groups[split.split == s2])
