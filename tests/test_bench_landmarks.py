"""The FaceMesh extraction benchmark: every setting timed, the whole-dataset extraction measured, not typed."""

from __future__ import annotations

import json

from fer.benchmarks.landmarks import SETTINGS, busy, run
from fer.data.sources import load_dataset


def test_the_benchmark_times_every_setting_and_with_full_every_face(tmp_path, capsys):
    ds = load_dataset("synthetic:6")
    record = run("synthetic:6", 10, full=True, command="test")
    timed = min(10, int((ds.split == "train").sum()))
    assert [{k: r[k] for k in SETTINGS[0]} for r in record["settings"]] == list(SETTINGS)
    assert all(r["faces"] == timed and r["faces_per_second"] > 0 for r in record["settings"])
    assert record["best"]["faces_per_second"] == max(r["faces_per_second"] for r in record["settings"])
    full = record["full_extraction"]
    assert full["faces"] == len(ds.images) > timed  # every split is extracted
    assert full["settings"] == {k: record["best"][k] for k in SETTINGS[0]}
    assert full["seconds"] > 0 and full["faces_per_second"] > 0
    assert record["reaches_target"] == (record["best"]["faces_per_second"] >= 200)
    json.dumps(record)  # the record is what --out writes
    assert "full_extraction" not in run("synthetic:6", 10, command="test")


def test_a_busy_cpu_is_said():
    assert busy([1.9, 1.0, 1.0], 2) is True
    assert busy([0.3, 1.5, 1.5], 2) is False
    assert busy(None, 2) is None
