"""``python -m fer evaluate``: score a saved model (or an ensemble) on one split; metrics JSON and plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer.cli.handler import handled


def register(sub: argparse._SubParsersAction) -> None:
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
    p.set_defaults(func=run_evaluate)


@handled("evaluate")
def run_evaluate(args: argparse.Namespace) -> int:
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
        from fer.run_folder import evaluation_plots

        out = Path(args.out)
        write_metrics(m, out)
        plots = evaluation_plots(out)
        save_figure(plot_confusion_matrix(m), plots["confusion"])
        save_figure(plot_per_class_f1(m), plots["per_class_f1"])
        print(f"wrote {out}")
    return 0
