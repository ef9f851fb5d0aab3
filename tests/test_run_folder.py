"""fer.run_folder: RunFolder names every file of a run, and train / evaluate / compare write and read exactly those."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from fer.data import Dataset
from fer.labels import EMOTIONS
from fer.run_folder import RunFolder, comparison_files, default_run_folder, evaluation_plots
from fer.train import train
from tests.test_train import Interrupt, quadrant_faces, tiny_config


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_the_names_of_a_run_folder(tmp_path):
    run = RunFolder(tmp_path / "run")
    got = {run.config: "config.json", run.env: "env.json", run.history_csv: "history.csv",
           run.history_json: "history.json", run.best_model: "best.keras", run.final_model: "final.keras",
           run.final_weights: "final.weights.h5", run.model: "model.keras", run.record: "run.json",
           run.speed: "speed.json", run.recalibration: "recalibrate.json", run.metrics("val"): "metrics_val.json",
           run.metrics("test", tta=True): "metrics_test_tta.json",
           run.confusion_plot("val_tta"): "plots/confusion_val_tta.png",
           run.per_class_f1_plot("test"): "plots/per_class_f1_test.png", run.history_plot: "plots/history.png",
           run.phase_backup(1): "backup/phase1", run.phase_done_weights(0): "backup/phase0.done.weights.h5",
           run.phase_done_record(0): "backup/phase0.done.json", run.swa: "backup/swa.npz"}
    assert {path.relative_to(run.root).as_posix(): name for path, name in got.items()} == {n: n for n in got.values()}
    assert RunFolder(tmp_path / "run") == run and Path(run) == tmp_path / "run" and run / "x" == run.root / "x"
    assert default_run_folder("demo") == Path("results/runs/demo")
    plots = evaluation_plots(tmp_path / "eval" / "m.json")
    assert plots == {"confusion": tmp_path / "eval" / "m_confusion.png",
                     "per_class_f1": tmp_path / "eval" / "m_per_class_f1.png"}


def test_compare_reads_the_run_folders_names_and_writes_exactly_its_files(tmp_path, monkeypatch):
    from fer.compare import compare_runs

    monkeypatch.chdir(tmp_path)  # relative run folders, as on the command line
    for name, acc in (("a", 0.5), ("b", 0.75)):
        run = RunFolder(name)
        run.root.mkdir()
        run.metrics("test").write_text(json.dumps({"num_samples": 4, "accuracy": acc, "macro_f1": acc / 2}))
        run.metrics("test", tta=True).write_text(json.dumps({"num_samples": 4, "accuracy": acc + 0.1, "macro_f1": 0}))
        run.config.write_text(json.dumps({"model": f"m_{name}", "input_shape": [48, 48, 1]}))
        run.history_json.write_text(json.dumps({"loss": [1.0, 0.5, 0.25], "wall_seconds": 120.0}))
    table = compare_runs(["a", "b"], split="test", out_dir="cmp")
    assert list(table["name"]) == ["b", "a"] and list(table["model"]) == ["m_b", "m_a"]
    assert list(table["accuracy_tta"]) == [0.85, 0.6] and list(table["epochs"]) == [3, 3]
    assert list(table["train_minutes"]) == [2.0, 2.0]
    assert _files(tmp_path / "cmp") == set(comparison_files(tmp_path / "cmp").values())
    assert sorted(p.name for p in comparison_files("x").values()) == ["comparison.csv", "comparison.json",
                                                                      "comparison.png"]


def test_metrics_files_and_read(tmp_path):
    run = RunFolder(tmp_path)
    for tag in ("val", "test_tta", "val_tta"):
        run.metrics(tag).write_text(json.dumps({"tag": tag}))
    (tmp_path / "metrics.json").write_text("{}")  # not an evaluation of the run
    assert list(run.metrics_files()) == ["test_tta", "val", "val_tta"]
    assert run.read(run.metrics("val")) == {"tag": "val"} and run.read(run.config) == {}
    assert RunFolder(".").read(RunFolder(".").config) == {}  # a relative folder reads its own files
    with pytest.raises(FileNotFoundError):
        run.read(run.config, missing_ok=False)


def test_train_and_evaluate_write_exactly_the_files_the_run_folder_names(tmp_path, capsys):
    from fer.__main__ import main

    q = quadrant_faces(8)
    split = q.split.copy()
    split[np.flatnonzero(split == "train")[:8]] = "test"  # train, val and test splits
    ds = Dataset(q.images, q.labels, split, q.source, q.origin, classes=EMOTIONS)  # evaluable on synthetic faces
    run = RunFolder(tmp_path / "run")
    result = train(ds, tiny_config(epochs=2), run.root, verbose=0)
    assert result.out_dir == run.root
    expected = {run.config, run.env, run.history_csv, run.history_json, run.best_model, run.final_model,
                run.final_weights, run.model, run.record, run.history_plot}
    for split in ("val", "test"):
        expected |= {run.metrics(split), run.confusion_plot(split), run.per_class_f1_plot(split)}
    assert _files(run.root) == expected
    assert set(run.metrics_files()) == set(result.metrics) == {"val", "test"}
    assert keras.saving.load_model(run.model).count_params() == result.model.count_params()

    out = tmp_path / "eval" / "scores.json"
    assert main(["evaluate", "--model", str(run.model), "--data", "synthetic:3", "--split", "val",
                 "--out", str(out)]) == 0
    assert _files(out.parent) == {out, *evaluation_plots(out).values()}


def test_an_interrupted_run_keeps_its_checkpoint_where_the_run_folder_says(tmp_path):
    from fer.train import run_state

    run = RunFolder(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        train(quadrant_faces(8), tiny_config(epochs=3), run.root, verbose=0, evaluate=False,
              callbacks=[Interrupt(after_epoch=1)])
    assert run.has_checkpoint() and any(run.phase_backup(0).rglob("*")) and run_state(run.root) == "interrupted"
    assert not run.record.exists() and not run.model.exists()
