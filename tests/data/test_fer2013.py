"""The Kaggle fer2013.csv reader and writer: round trips, every kind of bad row, and the real file."""

from __future__ import annotations

import gzip
import time

import numpy as np
import pandas as pd
import pytest

from fer.data import DataError, load_fer2013_csv, make_synthetic, write_fer2013_csv
from fer.labels import EMOTIONS

HEADER = "emotion,pixels,Usage\n"


def pixels(values) -> str:
    return " ".join(str(v) for v in values)


def write_rows(path, rows, header=HEADER):
    path.write_text(header + "".join(f"{e},{p},{u}\n" for e, p, u in rows))
    return path


def good_rows(n=4, side=4):
    rng = np.random.default_rng(0)
    return [(i % 7, pixels(rng.integers(0, 256, side * side)), "Training") for i in range(n)]


def test_round_trip_keeps_pixels_labels_and_splits(tmp_path):
    ds = make_synthetic(3, size=16, seed=1)
    path = write_fer2013_csv(ds, tmp_path / "fer2013.csv")
    back = load_fer2013_csv(path)
    np.testing.assert_array_equal(back.images, ds.images)
    np.testing.assert_array_equal(back.labels, ds.labels)
    np.testing.assert_array_equal(back.split, ds.split)
    assert set(back.split) == {"train", "val", "test"}  # val/test go through PublicTest/PrivateTest
    assert back.classes == EMOTIONS and back.meta["rows"] == len(ds)
    np.testing.assert_array_equal(back.origin, np.arange(len(ds)))


def test_gzip_round_trip_and_no_temp_file_left(tmp_path):
    ds = make_synthetic(2, size=16, seed=2)
    path = write_fer2013_csv(ds, tmp_path / "faces.csv.gz")
    with gzip.open(path, "rt") as f:
        assert f.readline().strip() == "emotion,pixels,Usage"
    np.testing.assert_array_equal(load_fer2013_csv(path).images, ds.images)
    assert [p.name for p in tmp_path.iterdir()] == ["faces.csv.gz"]


def test_writer_failure_leaves_no_file(tmp_path, monkeypatch):
    ds = make_synthetic(2, size=16)

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError):
        write_fer2013_csv(ds, tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []


def test_file_without_usage_is_all_train(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("emotion,pixels\n3," + pixels(range(16)) + "\n")
    ds = load_fer2013_csv(path)
    assert ds.split.tolist() == ["train"] and ds.image_shape == (4, 4, 1)


def test_wrong_header_names_file_and_expected_header(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("label,image,usage\n0,1 2 3 4,Training\n")
    with pytest.raises(DataError, match=r"bad\.csv.*lacks column.*emotion,pixels,Usage"):
        load_fer2013_csv(path)


@pytest.mark.parametrize("content, match", [("", "empty"), (HEADER, "no rows")])
def test_empty_file_and_header_only(tmp_path, content, match):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=match):
        load_fer2013_csv(path)


def test_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_fer2013_csv(tmp_path / "nope.csv")


def test_corrupt_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate")
    with pytest.raises(DataError, match="broken.csv.gz"):
        load_fer2013_csv(path)


BAD_ROWS = [
    ("wrong pixel count", (0, pixels(range(15)), "Training"), "15 pixel values, expected 4x4=16"),
    ("non-numeric pixel", (0, pixels(range(15)) + " x", "Training"), "non-numeric"),
    ("double space, right count", (0, pixels(range(14)) + "  7", "Training"), "more than one space"),
    ("value above 255", (0, pixels(list(range(15)) + [300]), "Training"), "outside 0..255"),
    ("bad emotion", (9, pixels(range(16)), "Training"), "emotion '9'"),
    ("bad usage", (0, pixels(range(16)), "Valid"), "Usage 'Valid'"),
]


@pytest.mark.parametrize("name, row, match", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_bad_row_raises_naming_file_and_row(tmp_path, name, row, match):
    rows = good_rows(3)
    rows.insert(2, row)
    path = write_rows(tmp_path / "f.csv", rows)
    with pytest.raises(DataError, match=rf"f\.csv: row 2 \(line 4\).*{match}.*on_error='skip'"):
        load_fer2013_csv(path)


@pytest.mark.parametrize("name, row, match", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_bad_row_is_skipped_and_reported(tmp_path, name, row, match):
    rows = good_rows(3)
    rows.insert(2, row)
    path = write_rows(tmp_path / "f.csv", rows)
    with pytest.warns(UserWarning, match="skipped 1 bad entries"):
        ds = load_fer2013_csv(path, on_error="skip")
    assert len(ds) == 3 and ds.origin.tolist() == [0, 1, 3]
    assert len(ds.meta["skipped"]) == 1 and ds.meta["skipped"][0][0] == "row 2 (line 4)"
    assert match.split("'")[0].split(",")[0] in ds.meta["skipped"][0][1]


def test_bad_first_row_does_not_change_the_image_size(tmp_path):
    rows = good_rows(4)
    rows[0] = (0, pixels(range(9)), "Training")  # a 3x3 row first
    path = write_rows(tmp_path / "f.csv", rows)
    with pytest.warns(UserWarning):
        ds = load_fer2013_csv(path, on_error="skip")
    assert ds.image_shape == (4, 4, 1) and len(ds) == 3


def test_every_row_bad_is_an_error_even_when_skipping(tmp_path):
    path = write_rows(tmp_path / "f.csv", [(9, pixels(range(16)), "Training")] * 2)
    with pytest.raises(DataError, match="every row was bad"):
        load_fer2013_csv(path, on_error="skip")


def test_invalid_on_error(tmp_path):
    with pytest.raises(ValueError, match="on_error"):
        load_fer2013_csv(tmp_path / "x.csv", on_error="ignore")


def test_empty_split_raises_clear_error(tmp_path):
    path = write_rows(tmp_path / "f.csv", good_rows(3))
    ds = load_fer2013_csv(path)
    with pytest.raises(ValueError, match="split 'test' is empty.*present splits: \\['train'\\]"):
        ds.subset("test")


# ---------------------------------------------------------------- real data


def test_real_fer2013_splits_and_shape(fer2013_real):
    ds = fer2013_real
    assert ds.image_shape == (48, 48, 1) and ds.images.dtype == np.uint8
    assert {s: int((ds.split == s).sum()) for s in ds.splits()} == {"train": 28709, "val": 3589}
    with pytest.raises(ValueError, match="'test' is empty"):
        ds.subset("test")  # the shared copy withholds PrivateTest
    counts = ds.subset("train").counts()
    assert counts["happy"] == max(counts.values()) and counts["disgust"] == min(counts.values())
    assert counts["disgust"] == 436 and counts["happy"] == 7215  # the well-known FER2013 training counts


def test_real_fer2013_loads_within_10_seconds(shared_data):
    # CPU time of this process, so a machine busy with other jobs does not fail the test (~4 s here)
    start = time.process_time()
    ds = load_fer2013_csv(shared_data / "fer2013" / "fer2013.csv.gz")
    assert time.process_time() - start <= 10.0
    assert len(ds) == 32298
