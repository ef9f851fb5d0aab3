"""Compare trained models by reading their run folders (never by re-training)."""

from __future__ import annotations

import json
import os

import pandas as pd

from fer.files import write_text
from fer.run_folder import RunFolder, comparison_files


def read_run(run_dir: str | os.PathLike, split: str = "val") -> dict:
    """One row of the comparison table from a run folder.

    Reads ``config.json``, ``metrics_<split>.json`` (and ``metrics_<split>_tta.json`` when present),
    ``history.json`` and, when the run was benchmarked, ``speed.json``.

    Raises:
        FileNotFoundError: when the folder or its metrics for ``split`` are missing, naming the file.
    """
    run = RunFolder(run_dir)
    metrics_file = run.metrics(split)
    if not metrics_file.is_file():
        present = sorted(p.name for p in run.metrics_files().values()) if run.root.is_dir() else []
        raise FileNotFoundError(f"{metrics_file} not found (present: {present or 'none'}); "
                                f"evaluate the run first or pick another --split")
    m = json.loads(metrics_file.read_text())
    config = run.read(run.config)
    history = run.read(run.history_json)
    speed = run.read(run.speed)
    row = {
        "name": run.root.name,
        "model": config.get("model", m.get("model")),
        "input": "x".join(str(v) for v in config.get("input_shape", [])),
        "split": split,
        "samples": m["num_samples"],
        "accuracy": m["accuracy"],
        "macro_f1": m["macro_f1"],
        "weighted_f1": m.get("weighted_f1"),
        "epochs": len(history.get("loss", [])) or None,
        "train_minutes": history["wall_seconds"] / 60 if "wall_seconds" in history else None,
        "params": speed.get("params", m.get("params")),
        "images_per_s": speed.get("images_per_s"),
    }
    tta = run.read(run.metrics(split, tta=True))
    if tta:
        row["accuracy_tta"] = tta["accuracy"]
    return row


def compare_runs(run_dirs, split: str = "val", out_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """A table (one row per run, best accuracy first); with ``out_dir`` also CSV, JSON and a chart."""
    table = pd.DataFrame([read_run(r, split) for r in run_dirs]).sort_values("accuracy", ascending=False)
    table = table.dropna(axis=1, how="all").reset_index(drop=True)
    if out_dir is not None:
        from fer.plots import plot_comparison, save_figure

        files = comparison_files(out_dir)
        write_text(table.to_csv(index=False), files["csv"])
        write_text(table.to_json(orient="records", indent=2), files["json"])
        save_figure(plot_comparison(table), files["chart"])
    return table
