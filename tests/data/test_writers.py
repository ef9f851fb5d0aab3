"""Exporting datasets: round trips through both formats, and atomicity (nothing partial left on error)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer.data import (
    Dataset,
    load_fer2013_csv,
    load_image_folders,
    make_synthetic,
    write_dataset,
    write_image_folders,
    write_synthetic,
    writers,
)
from fer.data.atomic import atomic_dir, write_json
from fer.data.images import decode_image


def folder_contents(root):
    """{relative path: pixels} of every PNG under ``root``."""
    return {p.relative_to(root).as_posix(): decode_image(p) for p in sorted(root.rglob("*.png"))}


def test_folders_dataset_folders_round_trip(tmp_path):
    first = write_synthetic(tmp_path, "folders", n_per_class=3, size=24, seed=1)
    ds = load_image_folders(first)
    second = write_image_folders(ds, tmp_path / "again")
    again = load_image_folders(second)
    # same pixels and labels per file, whatever the file names
    a = sorted((ds.split[i], ds.labels[i], ds.images[i].tobytes()) for i in range(len(ds)))
    b = sorted((again.split[i], again.labels[i], again.images[i].tobytes()) for i in range(len(again)))
    assert a == b
    # and the second export has the layout root/<split>/<emotion>/<row>.png
    files = folder_contents(second)
    for i in range(len(ds)):
        np.testing.assert_array_equal(files[f"{ds.split[i]}/{ds.classes[ds.labels[i]]}/{i:06d}.png"], ds.images[i])


def test_csv_dataset_csv_round_trip(tmp_path):
    path = write_synthetic(tmp_path, "csv", n_per_class=3, size=16, seed=2)
    ds = load_fer2013_csv(path)
    out = write_dataset(ds, tmp_path / "copy.csv", format="csv")
    assert out.read_text() == path.read_text()


def test_rgb_and_custom_classes_round_trip_through_folders(tmp_path):
    rng = np.random.default_rng(0)
    ds = Dataset(rng.integers(0, 256, (6, 10, 12, 3), dtype=np.uint8), np.array([0, 1, 0, 1, 0, 1]),
                 np.array(["train"] * 4 + ["test"] * 2), np.full(6, "x"), np.arange(6), classes=("pain", "happy"))
    root = write_dataset(ds, tmp_path / "out", format="folders")
    back = load_image_folders(root, classes=ds.classes, color="rgb")
    rows = [int(o.split("/")[-1][:-4]) for o in back.origin]
    np.testing.assert_array_equal(back.images, ds.images[rows])
    np.testing.assert_array_equal(back.labels, ds.labels[rows])


def test_csv_needs_fer2013_classes(tmp_path):
    ds = make_synthetic(2, size=16, classes=["happy", "contempt"])
    with pytest.raises(ValueError, match="7 FER2013 emotions"):
        write_dataset(ds, tmp_path / "x.csv", format="csv")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_overwrite(tmp_path):
    ds = make_synthetic(2, size=16)
    root = write_image_folders(ds, tmp_path / "out")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_image_folders(ds, root)
    write_dataset(ds, tmp_path / "f.csv", format="csv")
    with pytest.raises(FileExistsError):
        write_dataset(ds, tmp_path / "f.csv", format="csv")
    smaller = ds.select(np.arange(3))
    write_image_folders(smaller, root, overwrite=True)
    assert len(folder_contents(root)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv", "out"]  # no temp or backup folders left


def test_failed_export_leaves_nothing_behind(tmp_path, monkeypatch):
    ds = make_synthetic(3, size=16)
    calls = {"n": 0}
    real = writers.encode_png

    def failing(image, path):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        real(image, path)

    monkeypatch.setattr(writers, "encode_png", failing)
    with pytest.raises(OSError, match="disk full"):
        write_image_folders(ds, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_previous_export(tmp_path, monkeypatch):
    ds = make_synthetic(2, size=16)
    root = write_image_folders(ds, tmp_path / "out")
    before = folder_contents(root)
    monkeypatch.setattr(writers, "encode_png", lambda image, path: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError):
        write_image_folders(ds.select(np.arange(2)), root, overwrite=True)
    assert folder_contents(root).keys() == before.keys()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="format"):
        write_dataset(make_synthetic(1, size=16), tmp_path / "x", format="tfrecord")


def test_atomic_dir_and_write_json(tmp_path):
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "d") as tmp:
        (tmp / "a.txt").write_text("x")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []
    path = write_json({"a": 1, "b": [1, 2]}, tmp_path / "sub" / "r.json")
    assert json.loads(path.read_text()) == {"a": 1, "b": [1, 2]}
    with pytest.raises(TypeError):
        write_json({"bad": object()}, path)
    assert json.loads(path.read_text()) == {"a": 1, "b": [1, 2]}  # the old file survives a failed write
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_save_model_replaces_the_file_whole_or_not_at_all(tmp_path):
    import keras

    from fer.data.atomic import save_model

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    path = save_model(model, tmp_path / "sub" / "m.keras")
    np.testing.assert_array_equal(keras.saving.load_model(path).get_layer("d").get_weights()[0],
                                  model.get_layer("d").get_weights()[0])
    before = path.read_bytes()

    class Unsaveable(keras.Model):
        def save(self, filepath, **kwargs):
            open(filepath, "wb").write(b"half")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_model(Unsaveable(), path)
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ["m.keras"]
