"""``python -m fer study architectures ...``: the command line of the studies (parsing only; logic in the study)."""

from __future__ import annotations

import argparse
import sys


def add_study_parser(sub) -> None:
    """Register ``study`` (with one sub-command per study) on the ``python -m fer`` sub-parsers."""
    from fer.studies import architectures as arch

    p = sub.add_parser("study", help="rerun a study (e.g. the architecture comparison)",
                       description="Studies train several models under one protocol and write results/<study>/.")
    studies = p.add_subparsers(dest="study", required=True)
    a = studies.add_parser("architectures", help="every course architecture under one protocol on FER2013",
                           description=arch.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--data", help="fer2013.csv(.gz) (Training + PublicTest), or 'synthetic[:N]'; "
                                  "not needed with --report-only or --plan")
    a.add_argument("--scale", choices=sorted(arch.SCALES), default="cpu",
                   help="cpu: 48/64 px, random init, 8 epochs (default); gpu: 224 px + ImageNet weights, 30 epochs")
    a.add_argument("--only", help="comma-separated entries to run (default all): "
                   + ", ".join(e.name for e in arch.ENTRIES))
    a.add_argument("--rerun", default="", help="comma-separated entries to start over even if finished")
    a.add_argument("--epochs", type=int, help="override the scale's budget (quick looks; recorded in each run)")
    a.add_argument("--train-size", type=int, help="train on a class-stratified sample of this many faces")
    a.add_argument("--out", help="study folder (default results/architectures or results/architectures_gpu)")
    a.add_argument("--readme", help="also write the table into this README between the study markers")
    a.add_argument("--report-only", action="store_true", help="rebuild summary, table and figures; train nothing")
    a.add_argument("--plan", action="store_true", help="print each entry's settings and exit")
    a.add_argument("--remeasure-cost", action="store_true",
                   help="measure the speed of every finished run again (on an idle machine), then rebuild the report")
    a.add_argument("--seconds", type=float, default=2.0, help="time spent on each speed measurement")
    a.set_defaults(func=_architectures)


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def _architectures(args) -> int:
    from fer.studies import architectures as arch

    out = args.out or arch.SCALES[args.scale]["out"]
    if args.plan:
        for row in arch.plan(args.scale, _names(args.only), args.epochs):
            print("  ".join(f"{k}={v}" for k, v in row.items()))
        return 0
    if args.remeasure_cost:
        arch.remeasure_costs(out, _names(args.only), args.seconds)
    elif not args.report_only:
        if not args.data:
            print("fer study architectures: error: --data is required to train (or give --report-only / --plan)",
                  file=sys.stderr)
            return 2
        from fer.data.sources import load_dataset

        ds = load_dataset(args.data)
        if args.train_size:
            ds = ds.sample("train", args.train_size, seed=0)
        arch.run_study(ds, out, _names(args.only), args.scale, args.epochs, _names(args.rerun) or (), args.seconds)
    table = arch.write_report(out, args.readme)
    print(table[["name", "input", "accuracy", "macro_f1", "params", "latency_batch1_ms"]].to_string(index=False))
    print(f"wrote {out}/summary.json, comparison.md and figures/")
    return 0
