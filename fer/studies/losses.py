"""Same CNN, same budget, different training objectives: which technique helps on FER2013?

``python -m fer study losses --data ../shared/data/fer2013/fer2013.csv.gz`` trains one small CNN
(a half-width ``fer_resnet``, about 1.1M parameters) once per technique — plain cross-entropy, label
smoothing (0.1), mixup (α = 0.2), focal loss (γ = 2) and balanced class weights — with identical data,
seed, epochs and optimizer, evaluates each on PublicTest (the ``val`` split) and writes
``results/loss_comparison/comparison.json`` (+ CSV, chart).
Each run keeps its own run folder, so the table can be rebuilt with ``python -m fer compare``.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from fer.errors import UsageError

#: the study's CNN: fer_resnet at half width (fast enough for five runs on a laptop CPU)
SMALL_OPTIONS: dict = {"widths": (32, 64, 128, 256)}

#: technique name → TrainConfig overrides
TECHNIQUES: dict[str, dict] = {
    "cross_entropy": {},
    "label_smoothing": {"label_smoothing": 0.1},
    "mixup": {"mixup_alpha": 0.2},
    "focal": {"loss": "focal", "focal_gamma": 2.0},
    "class_weights": {"class_weighting": True},
}


def run_study(data: str, out: str | os.PathLike = "results/loss_comparison", *, model: str = "fer_resnet",
              epochs: int = 4, batch_size: int = 64, train_size: int | None = None,
              techniques: list[str] | None = None, command: str | None = None):
    """Train ``model`` once per technique of :data:`TECHNIQUES` (default all) into ``out/<technique>/``
    (finished runs are kept: the study resumes), compare them on val, write ``out/comparison.json``;
    return the comparison table (a DataFrame, best first).

    Example:
        >>> table = run_study("synthetic:40", "results/loss_demo", epochs=1, techniques=["cross_entropy"])
        ... # doctest: +SKIP
    """
    from fer.compare import compare_runs
    from fer.data.atomic import write_json
    from fer.data.sources import load_dataset
    from fer.provenance import command_line
    from fer.train import TrainConfig, train

    names = list(TECHNIQUES) if techniques is None else list(techniques)
    unknown = sorted(set(names) - set(TECHNIQUES))
    if unknown:
        raise UsageError(f"--techniques: unknown technique(s) {unknown}; choose from {list(TECHNIQUES)}")
    ds = load_dataset(data)
    if train_size:
        ds = ds.sample("train", train_size, seed=0)
    options = SMALL_OPTIONS if model == "fer_resnet" else {}
    base = TrainConfig(model=model, model_options=options, epochs=epochs, batch_size=batch_size,
                       lr=1e-3, schedule="cosine", early_stopping=0, seed=0, deterministic=False, keep="last")
    out = Path(out)
    runs = []
    for name in names:
        run_dir = out / name
        if not (run_dir / "metrics_val.json").is_file():  # finished runs are kept: the study resumes
            train(ds, replace(base, **TECHNIQUES[name]), run_dir, verbose=2)
        runs.append(run_dir)
    table = compare_runs(runs, split="val", out_dir=out)
    summary = {
        "command": command or command_line(),
        "dataset": str(data),
        "train_rows": int((ds.split == "train").sum()),
        "eval_split": "val (FER2013 PublicTest)",
        "model": model, "model_options": options, "epochs": epochs, "batch_size": batch_size,
        "optimizer": "adam 1e-3, cosine decay",
        "techniques": {k: TECHNIQUES[k] for k in names},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "results": json.loads(table.to_json(orient="records")),
    }
    write_json(summary, out / "comparison.json")
    return table


