"""The input-pipeline benchmark (`python -m fer.bench data`) on a tiny synthetic set."""

from __future__ import annotations

import json
import sys

import pytest

from fer.benchmarks import data as bench
from fer.cli import main

TINY = dict(data="synthetic", shapes=[(48, 48, 1), (24, 24, 3)], batch_size=8, batches=2, warmup=1, log=None)
REPORT_KEYS = {"command", "date", "dataset", "split", "images", "machine", "load_average_before",
               "load_average_after", "versions", "settings", "results", "targets", "tf_data_vs_fer_sequence",
               "conclusions"}
MEASUREMENT_KEYS = {"images_per_s", "batches_per_s", "seconds", "batches", "images", "speedup_vs_image_data_generator"}


def test_benchmark_without_the_baseline_writes_the_report(tmp_path):
    out = tmp_path / "bench_data.json"
    peers = ["fer_sequence_workers1", "fer_sequence_workers2", "tf_data", "keras3_image_dataset"]
    report = bench.run_data(40, peers=peers, out=out, command="test", **TINY)
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert set(report) == REPORT_KEYS
    assert report["images"] == 40 and report["dataset"].startswith("synthetic")
    assert report["machine"]["cpu_count"] >= 1 and len(report["load_average_before"]) == 3
    assert set(report["results"]) == {"48x48x1", "24x24x3"}
    for row in report["results"].values():
        assert list(row) == peers
        for m in row.values():
            assert set(m) == MEASUREMENT_KEYS
            assert m["batches"] == 2 and m["images"] == 16 and m["images_per_s"] > 0
            assert m["images_per_s"] == pytest.approx(8 * m["batches_per_s"], rel=0.01)
            assert m["speedup_vs_image_data_generator"] is None  # no baseline measured
    # without the baseline only the absolute target can be checked
    assert [t["target"] for t in report["targets"]] == [">= 5000 images/s at 48x48x1 with augmentation"]
    assert set(report["tf_data_vs_fer_sequence"]) == {"48x48x1", "24x24x3"}
    assert report["settings"]["augmentation"] == bench.AUGMENT.to_dict()


def test_benchmark_with_image_data_generator_reports_speedups(tmp_path):
    pytest.importorskip("tf_keras")
    peers = ["tf_data", "image_data_generator"]
    report = bench.run_data(30, peers=peers, out=None, command="test", **{**TINY, "shapes": [(48, 48, 1)]})
    row = report["results"]["48x48x1"]
    assert row["image_data_generator"]["speedup_vs_image_data_generator"] == 1.0
    ratio = row["tf_data"]["images_per_s"] / row["image_data_generator"]["images_per_s"]
    assert row["tf_data"]["speedup_vs_image_data_generator"] == pytest.approx(ratio, abs=0.01)
    assert report["versions"]["tf_keras"]
    names = {t["target"]: t for t in report["targets"]}
    speed = names[">= 5x ImageDataGenerator at 48x48x1 with augmentation"]
    assert speed["pipeline"] == "tf_data" and speed["passed"] == (speed["value"] >= 5)


def test_missing_tf_keras_fails_with_the_install_command(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tf_keras", None)  # makes `import tf_keras` raise ImportError
    with pytest.raises(ImportError, match=r"pip install -e \.\[bench\]"):
        bench.run_data(10, data="synthetic", peers=["tf_data", "image_data_generator"], log=None)
    assert main(["bench", "data", "--images", "10", "--data", "synthetic", "--no-write"]) == 1
    err = capsys.readouterr().err
    assert "ImageDataGenerator" in err and "pip install -e .[bench]" in err


def test_targets_and_verdict_use_the_fastest_project_pipeline():
    results = {"48x48x1": {
        "fer_sequence_workers1": {"images_per_s": 9000.0, "speedup_vs_image_data_generator": 9.0},
        "tf_data": {"images_per_s": 6000.0, "speedup_vs_image_data_generator": 6.0},
        "image_data_generator": {"images_per_s": 1000.0, "speedup_vs_image_data_generator": 1.0},
        "keras3_image_dataset": {"images_per_s": 20000.0, "speedup_vs_image_data_generator": 20.0},
    }, "224x224x3": {
        "fer_sequence_workers1": {"images_per_s": 300.0, "speedup_vs_image_data_generator": 3.0},
        "tf_data": {"images_per_s": 450.0, "speedup_vs_image_data_generator": 4.5},
        "image_data_generator": {"images_per_s": 100.0, "speedup_vs_image_data_generator": 1.0},
    }}
    got = {t["target"]: t for t in bench.targets(results)}
    assert got[">= 5x ImageDataGenerator at 48x48x1 with augmentation"] == {
        "target": ">= 5x ImageDataGenerator at 48x48x1 with augmentation", "pipeline": "fer_sequence_workers1",
        "value": 9.0, "passed": True}
    assert got[">= 5000 images/s at 48x48x1 with augmentation"]["passed"]
    big = got[">= 5x ImageDataGenerator at 224x224x3 with augmentation"]
    assert big["pipeline"] == "tf_data" and not big["passed"]
    verdict = bench.tf_data_verdict(results)
    assert verdict["48x48x1"] == {"tf_data_over_best_fer_sequence": 0.67, "tf_data_is_faster": False}
    assert verdict["224x224x3"]["tf_data_is_faster"]
    report = {"targets": bench.targets(results), "tf_data_vs_fer_sequence": verdict,
              "machine": {"cpu_count": 2}, "load_average_before": [3.5, 3.0, 2.0], "load_average_after": [0.1] * 3}
    text = "\n".join(bench.conclusions(report))
    assert "48x48x1: the tf.data path is NOT faster than the best FERSequence" in text
    assert "224x224x3: the tf.data path is faster" in text
    assert "FAIL: >= 5x ImageDataGenerator at 224x224x3" in text and "WARNING: the machine was busy" in text
    report["load_average_before"] = [0.2] * 3
    assert "busy" not in "\n".join(bench.conclusions(report))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown peers"):
        bench.benchmark(None, peers=["torch"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="--sizes '48x48'"):
        bench.parse_shape("48x48")
    with pytest.raises(ValueError, match="--images"):
        bench.bench_faces(0)
