"""Command line: ``python -m fer {train,evaluate,compare,predict,webcam,export,recalibrate,models} ...``.

Run ``python -m fer COMMAND --help`` for each command's options; set FER_DEBUG=1 for tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fer.errors import UsageError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _add_train(sub) -> None:
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
    p.add_argument("--force", action="store_true",
                   help="start over in --out even if it holds a finished or interrupted run")
    p.add_argument("--strategy", choices=("mirrored", "multiworker", "tpu"),
                   help="data-parallel training: every GPU here (mirrored), the workers named by TF_CONFIG "
                        "(multiworker; run the same command on every worker) or a TPU; --batch-size is per replica")
    p.add_argument("--backup-steps", type=int,
                   help="save the resume checkpoint every N steps instead of every epoch (multi-worker runs)")
    p.set_defaults(func=_train)


def _train(args) -> int:
    from dataclasses import replace

    from fer.data.sources import load_dataset
    from fer.recipes import get_recipe
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
                        ("seed", "seed"), ("strategy", "strategy"), ("backup_steps", "backup_steps")):
        if getattr(args, flag) is not None:
            over[field] = getattr(args, flag)
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
    out = args.out or str(Path("results") / "runs" / name)
    if not args.strategy:  # with several workers only the chief writes --out (fer.distribute)
        check_out_dir(Path(out))
    ds = load_dataset(args.data)  # "synthetic" is one fixed set everywhere, whatever the training seed
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


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="list the architectures with their default shapes and parameter counts")
    p.set_defaults(func=_models)


def _models(args) -> int:
    import fer.models

    for name in fer.models.available():
        model = fer.models.build(name)
        print(f"{name:24s} input {str(fer.models.default_shape(name)):16s} {model.count_params():>12,d} parameters")
    return 0


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score a saved model on a dataset split",
                       description="Accuracy, macro/weighted precision, recall and F1, per-class report and "
                                   "confusion matrix of MODEL on one split of DATA, written as JSON (plus plots).")
    p.add_argument("--model", required=True, action="append",
                   help="a .keras model file; repeat it for an ensemble that averages the models' probabilities")
    p.add_argument("--data", required=True,
                   help="fer2013.csv(.gz), an image-folder tree, 'ferplus' (or a FER+ fer2013new.csv: 8 classes, "
                        "majority votes), 'fer2013+ferplus[:W]' (FER2013 labels + FER+ votes as soft labels), or "
                        "'synthetic' / 'synthetic:N' (generated faces, N per class, default 1000)")
    p.add_argument("--split", default="test", help="train, val or test (default test; FER2013's PublicTest is 'val')")
    p.add_argument("--tta", nargs="?", const="flip_crops", default=None,
                   help="test-time augmentation: flip, crops, flip_crops (default when given) or ten_crop")
    p.add_argument("--out", help="metrics JSON path (default: print only); plots go next to it")
    p.add_argument("--batch-size", type=int, default=256)
    p.set_defaults(func=_evaluate)


def _evaluate(args) -> int:
    from fer.data.sources import load_dataset
    from fer.evaluate import evaluate, load_model, write_metrics

    if len(args.model) > 1:
        from fer.ensemble import load_ensemble

        model = load_ensemble(args.model)
    else:
        model = load_model(args.model[0])
    ds = load_dataset(args.data)
    m = evaluate(model, ds, split=args.split, tta=args.tta or False, batch_size=args.batch_size)
    m["model_file"] = str(args.model[0]) if len(args.model) == 1 else [str(f) for f in args.model]
    print(f"{args.split}: {m['num_samples']} faces  accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}")
    for name, row in m["per_class"].items():
        print(f"  {name:10s} precision {row['precision']:.3f}  recall {row['recall']:.3f}  f1 {row['f1']:.3f}"
              f"  support {row['support']}")
    if args.out:
        from fer.plots import plot_confusion_matrix, plot_per_class_f1, save_figure

        out = Path(args.out)
        write_metrics(m, out)
        save_figure(plot_confusion_matrix(m), out.with_name(out.stem + "_confusion.png"))
        save_figure(plot_per_class_f1(m), out.with_name(out.stem + "_per_class_f1.png"))
        print(f"wrote {out}")
    return 0


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="compare run folders: table and chart",
                       description="Read the metrics of each run folder (never re-trains) and print a table; "
                                   "with --out also write it as CSV/JSON and a comparison chart.")
    p.add_argument("runs", nargs="+", help="run folders written by `python -m fer train`")
    p.add_argument("--split", default="val", help="which metrics_<split>.json to compare (default val)")
    p.add_argument("--out", help="folder for comparison.csv, comparison.json and comparison.png")
    p.set_defaults(func=_compare)


def _compare(args) -> int:
    from fer.compare import compare_runs

    table = compare_runs(args.runs, split=args.split, out_dir=args.out)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from fer.export import add_export_parser
    from fer.inference import add_predict_parser, add_webcam_parser
    from fer.serve.cli import add_serve_parser
    from fer.studies.cli import add_study_parser
    from fer.weight_averaging import add_recalibrate_parser

    parser = argparse.ArgumentParser(prog="python -m fer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_evaluate(sub)
    _add_compare(sub)
    add_predict_parser(sub)
    add_webcam_parser(sub)
    add_export_parser(sub)
    add_recalibrate_parser(sub)
    _add_models(sub)
    add_study_parser(sub)
    add_serve_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if os.environ.get("FER_DEBUG"):
            raise
        print(f"fer {args.command}: interrupted", file=sys.stderr)
        return 130
    except UsageError as exc:  # a bad argument: exit 2, like argparse's own usage errors
        if os.environ.get("FER_DEBUG"):
            raise
        print(f"fer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, OSError) as exc:  # user errors: one line, no traceback
        if os.environ.get("FER_DEBUG"):
            raise
        print(f"fer {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
