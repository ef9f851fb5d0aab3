"""``python -m fer train``: parse the training options, build the config, call :func:`fer.train.train`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer.cli.handler import handled
from fer.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model and write a run folder",
                       description="Train a model from fer.models (or a named recipe) on a dataset; writes a run "
                                   "folder with config, history, model.keras, metrics and plots. Re-running with the "
                                   "same --out resumes an interrupted run and leaves a finished one as it is "
                                   "(--force trains it again). Usage errors exit 2, Ctrl-C exits 130.")
    p.add_argument("--model", help="architecture name (see `python -m fer models`)")
    p.add_argument("--recipe", help="a named recipe from fer.recipes (e.g. fer2013_default); flags override it")
    p.add_argument("--data", required=True,
                   help="fer2013.csv(.gz), an image-folder tree, 'ferplus' (or a FER+ fer2013new.csv: 8 classes, "
                        "majority votes), 'fer2013+ferplus[:W]' (FER2013 labels + FER+ votes as soft labels), or "
                        "'synthetic' / 'synthetic:N' (generated faces, N per class, default 1000)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--input-size", type=int, help="square input side (e.g. 48, 96, 224)")
    p.add_argument("--channels", type=int, choices=(1, 3))
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--class-weights", action="store_true", default=None, help="balanced class weights")
    p.add_argument("--mixup", type=float, help="mixup alpha (0 = off)")
    p.add_argument("--soft-labels", action="store_true", default=None,
                   help="train on the dataset's soft labels (FER+: the normalised crowd votes)")
    p.add_argument("--loss", choices=("categorical_crossentropy", "focal", "arcface"),
                   help="arcface: angular-margin logits on the model's embedding; the saved model is a plain "
                        "classifier")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--seed", type=int)
    p.add_argument("--train-size", type=int, help="train on a class-stratified sample of this many faces")
    p.add_argument("--out", help="run folder (default results/runs/<recipe or model>)")
    p.add_argument("--quiet", action="store_true", help="one line per epoch instead of a progress bar")
    p.add_argument("--val-split", type=float, metavar="F",
                   help="when the data has no validation split (e.g. the Kaggle train/test folders): carve one from "
                        "train, stratified by class and grouped by subject, this fraction in (0, 0.5] (default 0.1)")
    p.add_argument("--resplit", metavar="T,V,E",
                   help="replace the published splits by a stratified train,val,test re-split, e.g. 0.7,0.1,0.2 "
                        "(the sources' protocol; scores are then not comparable with published ones)")
    p.add_argument("--schedule", choices=("plateau", "cosine", "cosine_restarts", "constant"),
                   help="learning-rate schedule (cosine_restarts: SGDR warm restarts)")
    p.add_argument("--phase", action="append", metavar="EPOCHS:LR:LAYERS",
                   help="a fine-tuning phase, repeatable, e.g. --phase 20:1e-3:0 --phase 50:5e-4:80 --phase 30:1e-4:-1 "
                        "(LAYERS: 0 = head only, N = also the last N backbone layers, -1 = all, 'all' = everything "
                        "incl. BatchNorm, a warm restart)")
    p.add_argument("--clipnorm", type=float, help="clip each gradient to this L2 norm")
    p.add_argument("--distill-from", action="append", metavar="TEACHER",
                   help="knowledge distillation from a teacher .keras model (repeat for an ensemble teacher)")
    p.add_argument("--distill-alpha", type=float, help="weight of the teacher's targets (default 0.5)")
    p.add_argument("--distill-temperature", type=float, help="softening temperature (default 2.0)")
    p.add_argument("--distill-cache", action="store_true", default=None,
                   help="ask the teacher once about each un-augmented training face (kept in the run folder's "
                        "teacher.npz) instead of about every augmented batch: much faster for a small student")
    p.add_argument("--metrics", help="comma-separated training metrics recorded each epoch: accuracy (always), "
                                     "precision, recall, macro_f1")
    p.add_argument("--force", action="store_true",
                   help="start over in --out even if it holds a finished or interrupted run")
    p.add_argument("--strategy", choices=("mirrored", "multiworker", "tpu"),
                   help="data-parallel training: every GPU here (mirrored), the workers named by TF_CONFIG "
                        "(multiworker; run the same command on every worker) or a TPU; --batch-size is per replica")
    p.add_argument("--backup-steps", type=int,
                   help="also save the resume checkpoint every N steps (default: at epoch ends only); a run "
                        "stopped inside an epoch resumes after the last saved batch")
    p.set_defaults(func=run_train)


@handled("train")
def run_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from fer.data.sources import load_dataset
    from fer.recipes import get_recipe
    from fer.run_folder import default_run_folder
    from fer.train import TrainConfig, check_config, check_out_dir, train

    if not args.model and not args.recipe:
        raise UsageError("give --model NAME or --recipe NAME (`python -m fer models` lists the models)")
    cfg = get_recipe(args.recipe) if args.recipe else TrainConfig(model=args.model)
    over = {}
    if args.model:
        over["model"] = args.model
    for flag, field in (("epochs", "epochs"), ("batch_size", "batch_size"), ("lr", "lr"),
                        ("label_smoothing", "label_smoothing"), ("class_weights", "class_weighting"),
                        ("mixup", "mixup_alpha"), ("soft_labels", "soft_labels"), ("loss", "loss"),
                        ("seed", "seed"), ("strategy", "strategy"), ("backup_steps", "backup_steps"),
                        ("schedule", "schedule"), ("clipnorm", "clipnorm"), ("distill_alpha", "distill_alpha"),
                        ("distill_temperature", "distill_temperature"), ("distill_cache", "distill_cache")):
        if getattr(args, flag) is not None:
            over[field] = getattr(args, flag)
    if args.distill_from:
        over["distill_from"] = args.distill_from[0] if len(args.distill_from) == 1 else list(args.distill_from)
    if args.metrics:
        over["metrics"] = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    if args.phase:
        phases = [_parse_phase(text) for text in args.phase]
        over["phases"], over["epochs"] = phases, sum(ph.epochs for ph in phases)
        cfg = replace(cfg, phases=[])  # the command line's phases replace a recipe's
    clash = [f"--{k.replace('_', '-')}" for k in ("epochs", "lr") if k in over and cfg.phases]
    if clash:
        raise SystemExit(f"train: {' and '.join(clash)} cannot change recipe {args.recipe!r}: it trains in "
                         f"{len(cfg.phases)} phases with their own epochs and learning rates (fer/recipes.py)")
    if args.no_augment:
        over["augment"] = False
    check_config(replace(cfg, **over))  # before the data is read or anything is written
    if args.input_size is not None and args.input_size < 1:
        raise UsageError(f"--input-size {args.input_size}: give a positive side in pixels, e.g. --input-size 48")
    if args.input_size or args.channels:
        from fer.models import default_shape

        h, w, c = cfg.input_shape or default_shape(over.get("model", cfg.model))
        over["input_shape"] = (args.input_size or h, args.input_size or w, args.channels or c)
    name = args.recipe or over.get("model", cfg.model)
    out = args.out or str(default_run_folder(name))
    if not args.strategy:  # with several workers only the chief writes --out (fer.distribute)
        check_out_dir(Path(out))
    if args.val_split is not None and not 0 < args.val_split <= 0.5:
        raise UsageError(f"--val-split {args.val_split}: the validation fraction must be in (0, 0.5], e.g. 0.1")
    fractions = _parse_fractions(args.resplit) if args.resplit else None
    ds = load_dataset(args.data)  # "synthetic" is one fixed set everywhere, whatever the training seed
    ds = _with_validation(ds, args.val_split, fractions, seed=over.get("seed", cfg.seed))
    if args.train_size:
        ds = ds.sample("train", args.train_size, seed=cfg.seed)
    try:
        run = train(ds, cfg, out, verbose=2 if args.quiet else "auto", force=args.force, **over)
    except KeyboardInterrupt:
        print(f"fer train: interrupted; re-run the same command to resume from the last checkpoint in {out}",
              file=sys.stderr)
        return 130
    if run.status == "finished":
        print(f"run folder: {run.out_dir} (already finished; nothing trained: --force trains it again, "
              "or give a new --out)")
    else:
        print(f"run folder: {run.out_dir}")
    for split, m in run.metrics.items():
        print(f"{split}: accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}")
    return 0


def _parse_phase(text: str):
    from fer.train import Phase

    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        layers = None if parts[2] == "all" else int(parts[2])
        return Phase(epochs=int(parts[0]), lr=float(parts[1]), trainable_layers=layers)
    except ValueError:
        raise UsageError(f"--phase {text!r}: write EPOCHS:LR:LAYERS, e.g. --phase 20:1e-3:0 (head only), "
                         "--phase 50:5e-4:80 (also the last 80 backbone layers), --phase 30:1e-4:-1 (all)") from None


def _parse_fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(v) for v in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or min(parts) < 0 or parts[0] <= 0 or abs(sum(parts) - 1) > 1e-6:
        raise UsageError(f"--resplit {text!r}: give three fractions train,val,test that sum to 1, e.g. 0.7,0.1,0.2")
    return parts


def _with_validation(ds, val_split: float | None, fractions, seed: int):
    """The dataset with a validation split: re-split on request, carved from train when it has none."""
    from fer.data.splits import carve_validation, resplit

    if fractions is not None:
        ds = resplit(ds, fractions, seed=seed)
        print(f"fer train: re-split into train/val/test = {fractions} (stratified, seed {seed}): "
              f"{ds.counts() if hasattr(ds, 'counts') else ''}", file=sys.stderr)
        return ds
    if "val" in ds.splits():
        if val_split is not None:
            raise UsageError(f"--val-split {val_split}: this dataset already has a validation split "
                             f"({ds.splits()}); drop --val-split, or use --resplit T,V,E to re-split everything")
        return ds
    if "train" not in ds.splits():
        return ds  # train() says what is missing
    fraction = 0.1 if val_split is None else val_split
    ds = carve_validation(ds, fraction, seed=seed)
    grouped = " and grouped by subject" if ds.groups is not None else ""
    print(f"fer train: the data has no validation split; carved {fraction:.0%} of train "
          f"({int((ds.split == 'val').sum())} faces, stratified by class{grouped}, seed {seed}); "
          "test is untouched (--val-split F changes the fraction)", file=sys.stderr)
    return ds
