"""``python -m fer compare``: read run folders' metrics into one table (and chart); never trains."""

from __future__ import annotations

import argparse

from fer.cli.handler import handled


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare run folders: table and chart",
                       description="Read the metrics of each run folder (never re-trains) and print a table; "
                                   "with --out also write it as CSV/JSON and a comparison chart.")
    p.add_argument("runs", nargs="+", help="run folders written by `python -m fer train`")
    p.add_argument("--split", default="val", help="which metrics_<split>.json to compare (default val)")
    p.add_argument("--out", help="folder for comparison.csv, comparison.json and comparison.png")
    p.set_defaults(func=run_compare)


@handled("compare")
def run_compare(args: argparse.Namespace) -> int:
    from fer.compare import compare_runs

    table = compare_runs(args.runs, split=args.split, out_dir=args.out)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0
