"""Same CNN, same budget, different training objectives: which technique helps on FER2013?

``python -m fer.loss_comparison --data ../shared/data/fer2013/fer2013.csv.gz`` trains one small CNN
(a half-width ``fer_resnet``, about 1.1M parameters) once per technique — plain cross-entropy, label
smoothing (0.1), mixup (α = 0.2), focal loss (γ = 2) and balanced class weights — with identical data,
seed, epochs and optimizer, evaluates each on PublicTest (the ``val`` split) and writes
``results/loss_comparison/comparison.json`` (+ CSV, chart).
Each run keeps its own run folder, so the table can be rebuilt with ``python -m fer compare``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer.loss_comparison", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="fer2013.csv(.gz), an image-folder tree, or 'synthetic'")
    parser.add_argument("--model", default="fer_resnet")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-size", type=int, help="stratified sample of the train split (default: all)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--techniques", default=",".join(TECHNIQUES), help="comma-separated subset of "
                        + ", ".join(TECHNIQUES))
    parser.add_argument("--out", default="results/loss_comparison")
    args = parser.parse_args(argv)

    from fer.compare import compare_runs
    from fer.data.atomic import write_json
    from fer.data.sources import load_dataset
    from fer.provenance import command_line
    from fer.train import TrainConfig, train

    names = [t.strip() for t in args.techniques.split(",") if t.strip()]
    unknown = sorted(set(names) - set(TECHNIQUES))
    if unknown:
        parser.error(f"unknown technique(s) {unknown}; choose from {list(TECHNIQUES)}")
    ds = load_dataset(args.data)
    if args.train_size:
        ds = ds.sample("train", args.train_size, seed=0)
    options = SMALL_OPTIONS if args.model == "fer_resnet" else {}
    base = TrainConfig(model=args.model, model_options=options, epochs=args.epochs, batch_size=args.batch_size,
                       lr=1e-3, schedule="cosine", early_stopping=0, seed=0, deterministic=False, keep="last")
    out = Path(args.out)
    runs = []
    for name in names:
        run_dir = out / name
        if not (run_dir / "metrics_val.json").is_file():  # finished runs are kept: the study resumes
            train(ds, replace(base, **TECHNIQUES[name]), run_dir, verbose=2)
        runs.append(run_dir)
    table = compare_runs(runs, split="val", out_dir=out)
    summary = {
        "command": command_line(),
        "dataset": str(args.data),
        "train_rows": int((ds.split == "train").sum()),
        "eval_split": "val (FER2013 PublicTest)",
        "model": args.model, "model_options": options, "epochs": args.epochs, "batch_size": args.batch_size,
        "optimizer": "adam 1e-3, cosine decay",
        "techniques": {k: TECHNIQUES[k] for k in names},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "results": json.loads(table.to_json(orient="records")),
    }
    write_json(summary, out / "comparison.json")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
