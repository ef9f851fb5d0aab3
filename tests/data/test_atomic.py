"""fer.data.atomic: a file written through atomic_path / write_csv appears whole under its name, or not at all."""

from __future__ import annotations

import csv

import pytest

from fer.data.atomic import atomic_path, write_csv


def test_atomic_path_renames_on_success_and_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "sub" / "clip.mp4"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".mp4" and tmp.name.startswith(".")
        tmp.write_bytes(b"frames")
        assert not target.exists()  # not under its name before the block ends
    assert target.read_bytes() == b"frames"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer failed")
    assert target.read_bytes() == b"frames" and sorted(p.name for p in target.parent.iterdir()) == ["clip.mp4"]


def test_write_csv_writes_the_header_then_the_rows(tmp_path):
    out = write_csv([[1, "a,b"], [2, ""]], tmp_path / "rows.csv", ["n", "text"])
    with open(out, newline="") as f:
        assert list(csv.reader(f)) == [["n", "text"], ["1", "a,b"], ["2", ""]]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.csv"]
