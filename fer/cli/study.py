"""``python -m fer study architectures|losses|landmarks|framing ...``: the studies' command line (parsing only;
the logic is in :mod:`fer.studies`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer.cli.handler import handled
from fer.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``study`` (with one sub-command per study) on the ``python -m fer`` sub-parsers."""
    from fer.studies import architectures as arch, framing, landmarks, losses

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
    a.add_argument("--backup-steps", type=int, default=0,
                   help="also save the resume checkpoint every N steps, so a stop inside a long epoch loses at "
                        "most N steps (default 0: at epoch ends)")
    a.set_defaults(func=_architectures)

    s = studies.add_parser("losses", help="one small CNN per loss / regularisation technique",
                           description=losses.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--data", required=True, help="fer2013.csv(.gz), an image-folder tree, or 'synthetic'")
    s.add_argument("--model", default="fer_resnet")
    s.add_argument("--epochs", type=int, default=4)
    s.add_argument("--train-size", type=int, help="stratified sample of the train split (default: all)")
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--techniques", default=",".join(losses.TECHNIQUES), help="comma-separated subset of "
                   + ", ".join(losses.TECHNIQUES))
    s.add_argument("--out", default="results/loss_comparison")
    s.set_defaults(func=_losses)

    m = studies.add_parser("landmarks", help="the landmark models (FaceMesh points) under one protocol",
                           description=landmarks.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("--data", required=True, help="fer2013.csv(.gz)")
    m.add_argument("--out", default="results/landmarks")
    m.add_argument("--runs", nargs="+", default=list(landmarks.DEFAULT_RUNS),
                   help="model[@graph][+flag|+option=value]:epochs entries (+flag: a builder option set to "
                   "true, e.g. landmark_mlp+batchnorm:40; +option=value: set to a word, an integer or integers "
                   "joined by '-', e.g. landmark_gnn@mesh+units=64-64-128-128-128:4)")
    m.add_argument("--seed", type=int, default=42)
    m.set_defaults(func=_landmarks)

    f = studies.add_parser("framing", help="measure the FER2013 crop framing from the eyes (fer.inference.alignment)",
                           description=framing.__doc__.split("\n\n")[0])
    f.add_argument("--data", default=str(framing.DEFAULT_FER), help=f"FER2013 csv(.gz) (default {framing.DEFAULT_FER})")
    f.add_argument("--ckplus", default=str(framing.DEFAULT_CKPLUS),
                   help=f"CK+48 folder for the check (default {framing.DEFAULT_CKPLUS})")
    f.add_argument("--fit", type=int, default=1500, help="training faces to fit on (default 1500)")
    f.add_argument("--check", type=int, default=500, help="held-out training faces for the residuals (default 500)")
    f.add_argument("--public", type=int, default=1000,
                   help="PublicTest faces for the accuracy check (default 1000; 0 skips)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", default=str(framing.RESULTS), help=f"JSON to write (default {framing.RESULTS})")
    f.set_defaults(func=_framing)


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


@handled("study architectures")
def _architectures(args: argparse.Namespace) -> int:
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
            raise UsageError("--data is required to train (or give --report-only / --plan)")
        from fer.data.sources import load_dataset

        ds = load_dataset(args.data)
        if args.train_size:
            ds = ds.sample("train", args.train_size, seed=0)
        arch.run_study(ds, out, _names(args.only), args.scale, args.epochs, _names(args.rerun) or (), args.seconds,
                       backup_steps=args.backup_steps)
    table = arch.write_report(out, args.readme)
    print(table[["name", "input", "accuracy", "macro_f1", "params", "latency_batch1_ms"]].to_string(index=False))
    print(f"wrote {out}/summary.json, comparison.md and figures/")
    return 0


@handled("study losses")
def _losses(args: argparse.Namespace) -> int:
    from fer.studies.losses import run_study

    table = run_study(args.data, args.out, model=args.model, epochs=args.epochs, batch_size=args.batch_size,
                      train_size=args.train_size, techniques=_names(args.techniques), command=args.command_line)
    print(table.to_string(index=False))
    return 0


@handled("study landmarks")
def _landmarks(args: argparse.Namespace) -> int:
    from fer.studies.landmarks import run_study

    run_study(args.data, args.out, args.runs, seed=args.seed, command=args.command_line)
    return 0


@handled("study framing")
def _framing(args: argparse.Namespace) -> int:
    from fer.data.atomic import write_json
    from fer.studies.framing import run

    if not Path(args.data).is_file():
        raise FileNotFoundError(f"--data {args.data} not found; pass the FER2013 csv(.gz)")
    if args.fit < 10 or args.check < 10:
        raise ValueError("--fit and --check must be at least 10 faces")
    report = run(Path(args.data), Path(args.ckplus), n_fit=args.fit, n_check=args.check, n_public=args.public,
                 seed=args.seed, command=args.command_line)
    out = write_json(report, args.out)
    print(f"framing {report['framing']}; held-out IoU {report['held_out_residuals']['eye_framing_iou']}")
    print(f"wrote {out}")
    return 0
