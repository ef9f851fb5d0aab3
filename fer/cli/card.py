"""``python -m fer card --run RUN --model FILE [--metrics ...]``: write a model card with :mod:`fer.model_card`."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer.cli.handler import handled


def register(sub: argparse._SubParsersAction) -> None:
    from fer import model_card

    parser = sub.add_parser("card", help="write a shipped model's card (models/README.md) from its run folder",
                            description=model_card.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="the run folder that trained the model")
    parser.add_argument("--model", required=True, help="the shipped .keras file")
    parser.add_argument("--metrics", nargs="*", default=[], help="evaluation JSON files (python -m fer evaluate)")
    parser.add_argument("--bench", help="results/bench_inference.json")
    parser.add_argument("--title", default="fer2013_default")
    parser.add_argument("--note", action="append", default=[], help="an extra line for the Training section")
    parser.add_argument("--see-also", action="append", default=[], help="another card to link at the end")
    parser.add_argument("--out", default="models/README.md")
    parser.set_defaults(func=run_card)


@handled("card")
def run_card(args: argparse.Namespace) -> int:
    from fer.data.atomic import write_text
    from fer.model_card import model_card

    text = model_card(Path(args.run), Path(args.model), [Path(p) for p in args.metrics],
                      Path(args.bench) if args.bench else None, args.title, args.note, args.see_also)
    out = write_text(text, args.out)
    print(f"wrote {out}")
    return 0
