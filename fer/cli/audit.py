"""``python -m fer audit --fer2013 CSV [--ferplus CSV] [--ckplus DIR]``: the leakage audit of :mod:`fer.data.audit`."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer.cli.handler import handled
from fer.data.merge import NEAR_CORRELATION, NEAR_THRESHOLD


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="leakage audit of FER2013, FER+, CK+ and their merge",
                            description="Audit FER2013, FER+ and CK+ and their merge (exact and near duplicates "
                                        "across splits, label agreement); write JSON and a PNG next to it.")
    parser.add_argument("--fer2013", type=Path, help="fer2013.csv(.gz)")
    parser.add_argument("--ferplus", type=Path, help="FER+ fer2013new.csv (needs --fer2013); its majority labels "
                        "replace FER2013's in the merge")
    parser.add_argument("--ckplus", type=Path, help="CK+48 folder")
    parser.add_argument("--out", type=Path, default=Path("results/merge_audit.json"))
    parser.add_argument("--contempt", default="drop", help="'drop' or 'map:<emotion>' (default drop)")
    parser.add_argument("--near-threshold", type=int, default=NEAR_THRESHOLD)
    parser.add_argument("--near-correlation", type=float, default=NEAR_CORRELATION)
    parser.add_argument("--ckplus-val", type=float, default=0.15)
    parser.add_argument("--ckplus-test", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=run_audit_command, parser=parser)


@handled("audit")
def run_audit_command(args: argparse.Namespace) -> int:
    """Audit, write the report and its figure, print the overlap tables."""
    from fer.data.atomic import atomic_path, write_json
    from fer.data.audit import audit_table, plot_audit, run_audit

    parser = args.parser
    if args.ferplus and not args.fer2013:
        parser.error("--ferplus needs --fer2013 (FER+ has labels only; the faces are in fer2013.csv)")
    if not (args.fer2013 or args.ckplus):
        parser.error("give at least one of --fer2013, --ckplus")
    report = run_audit(args.fer2013, args.ferplus, args.ckplus, contempt=args.contempt,
                       near_threshold=args.near_threshold, near_correlation=args.near_correlation,
                       ckplus_val=args.ckplus_val, ckplus_test=args.ckplus_test, seed=args.seed,
                       command=args.command_line)
    write_json(report, args.out)
    fig = plot_audit(report["merged"], before=report["merged_before_dedup"],
                     title="merged: " + " + ".join(report["merged_from"]))
    png = args.out.with_suffix(".png")
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=110)
    print(f"wrote {args.out} and {png}")
    for name in ("fer2013", "ferplus", "ckplus", "merged_before_dedup", "merged"):
        if name in report:
            print(f"\n{name}: {report[name]['splits']}")
            print(audit_table(report[name], "overlap").to_string())
    m = report["merged"]["merge"]
    print(f"\nmerge removed {m['rows_in'] - m['rows_out']} of {m['rows_in']} rows: {m['removed_by_reason']}")
    return 0
