"""Command line: ``python -m fer {train,evaluate,compare,predict,webcam,export} ...``.

Run ``python -m fer COMMAND --help`` for each command's options.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a model and write a run folder",
                       description="Train a model from fer.models (or a named recipe) on a dataset; writes a run "
                                   "folder with config, history, model.keras, metrics and plots. Re-running with the "
                                   "same --out resumes an interrupted run.")
    p.add_argument("--model", help="architecture name (see `python -m fer models`)")
    p.add_argument("--recipe", help="a named recipe from fer.recipes (e.g. fer2013_default); flags override it")
    p.add_argument("--data", required=True, help="fer2013.csv(.gz), an image-folder tree, or 'synthetic'")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--input-size", type=int, help="square input side (e.g. 48, 96, 224)")
    p.add_argument("--channels", type=int, choices=(1, 3))
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--class-weights", action="store_true", default=None, help="balanced class weights")
    p.add_argument("--mixup", type=float, help="mixup alpha (0 = off)")
    p.add_argument("--loss", choices=("categorical_crossentropy", "focal"))
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="run folder (default results/runs/<model>-<time>)")
    p.add_argument("--quiet", action="store_true", help="one line per epoch instead of a progress bar")
    p.set_defaults(func=_train)


def _train(args) -> int:
    from fer.data.sources import load_dataset
    from fer.recipes import get_recipe
    from fer.train import TrainConfig, train

    if not args.model and not args.recipe:
        raise SystemExit("train: give --model NAME or --recipe NAME (see --help)")
    cfg = get_recipe(args.recipe) if args.recipe else TrainConfig(model=args.model)
    over = {}
    if args.model:
        over["model"] = args.model
    for flag, field in (("epochs", "epochs"), ("batch_size", "batch_size"), ("lr", "lr"),
                        ("label_smoothing", "label_smoothing"), ("class_weights", "class_weighting"),
                        ("mixup", "mixup_alpha"), ("loss", "loss"), ("seed", "seed")):
        if getattr(args, flag) is not None:
            over[field] = getattr(args, flag)
    if args.no_augment:
        over["augment"] = False
    if args.input_size or args.channels:
        from fer.models import default_shape

        h, w, c = cfg.input_shape or default_shape(over.get("model", cfg.model))
        over["input_shape"] = (args.input_size or h, args.input_size or w, args.channels or c)
    ds = load_dataset(args.data, seed=cfg.seed)
    name = args.recipe or over.get("model", cfg.model)
    out = args.out or str(Path("results") / "runs" / name)
    run = train(ds, cfg, out, verbose=2 if args.quiet else "auto", **over)
    print(f"run folder: {run.out_dir}")
    for split, m in run.metrics.items():
        print(f"{split}: accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}")
    return 0


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="list the architectures with their default shapes and parameter counts")
    p.set_defaults(func=_models)


def _models(args) -> int:
    import fer.models

    for name in fer.models.available():
        model = fer.models.build(name)
        print(f"{name:24s} input {str(fer.models.default_shape(name)):16s} {model.count_params():>12,d} parameters")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_models(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
