"""``python -m fer recalibrate MODEL [MODEL ...] --data DATA --out FILE``: average checkpoints' weights and
re-estimate BatchNorm statistics (:mod:`fer.weight_averaging`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer.cli.handler import handled


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``recalibrate``: ``python -m fer recalibrate MODEL [MODEL ...] --data DATA --out FILE``."""
    p = subparsers.add_parser(
        "recalibrate", help="re-estimate a model's BatchNorm statistics on clean training faces (or average "
                            "several checkpoints first)",
        description="Re-estimate the BatchNorm statistics of MODEL on the un-augmented faces of DATA's training "
                    "split and save the result; given several MODELs (checkpoints of one run), average their "
                    "weights first (stochastic weight averaging). Score the output with `python -m fer evaluate`.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help=".keras files of one architecture")
    p.add_argument("--data", required=True, help="the training data: fer2013.csv(.gz), an image-folder tree, "
                                                 "'ferplus' or 'synthetic'")
    p.add_argument("--split", default="train", help="the split to estimate on (default: train)")
    p.add_argument("--weights", type=float, nargs="+", help="one averaging weight per MODEL (default: equal)")
    p.add_argument("--batch-size", type=int, default=128, help="faces per batch; use the training batch size")
    p.add_argument("--seed", type=int, default=42, help="seed of the batch order")
    p.add_argument("--out", "-o", required=True, help="the output .keras file (may be one of the MODELs)")
    p.add_argument("--record", metavar="JSON", help="also write what was done (command, inputs and output with "
                                                    "their sha256, data, date) as JSON, e.g. into results/")
    p.set_defaults(func=run_recalibrate)
    return p


@handled("recalibrate")
def run_recalibrate(args: argparse.Namespace) -> int:
    """The ``recalibrate`` subcommand."""
    from datetime import datetime, timezone

    from fer.data.atomic import save_model, write_json
    from fer.data.pipeline import FERSequence
    from fer.data.sources import load_dataset
    from fer.evaluate import load_model
    from fer.preprocess import model_input_shape
    from fer.provenance import file_sha256
    from fer.weight_averaging import average_weights, update_batchnorm

    out = Path(args.out)
    if out.suffix != ".keras":
        raise ValueError(f"--out {args.out!r}: give a .keras file name")
    inputs = [{"path": str(p), "sha256": file_sha256(p)} for p in args.models]  # before --out may replace one
    models = [load_model(p) for p in args.models]
    model = average_weights(models, args.weights) if len(models) > 1 else models[0]
    ds = load_dataset(args.data)
    if args.split not in ds.splits():
        raise ValueError(f"--split {args.split!r}: {args.data!r} has no such split (present: {ds.splits()})")
    faces = FERSequence(ds, args.split, model_input_shape(model), args.batch_size, augment=False, shuffle=True,
                        seed=args.seed)
    n = update_batchnorm(model, faces)
    save_model(model, out)
    print(f"{len(models)} model(s) -> {out}: {n} BatchNorm layers re-estimated on {len(faces.images)} "
          f"un-augmented {args.split} faces")
    if args.record:
        write_json({"command": args.command_line, "inputs": inputs, "weights": args.weights,
                    "data": args.data, "split": args.split, "faces": len(faces.images),
                    "batch_size": args.batch_size, "seed": args.seed, "batchnorm_layers": n,
                    "output": {"path": str(out), "sha256": file_sha256(out)},
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}, args.record)
        print(f"wrote {args.record}")
    return 0
