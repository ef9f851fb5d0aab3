"""``python -m fer models``: list the architectures with their default shapes and parameter counts."""

from __future__ import annotations

import argparse

from fer.cli.handler import handled


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the architectures with their default shapes and parameter counts")
    p.set_defaults(func=run_models)


@handled("models")
def run_models(args: argparse.Namespace) -> int:
    import fer.models

    for name in fer.models.available():
        model = fer.models.build(name)
        print(f"{name:24s} input {str(fer.models.default_shape(name)):16s} {model.count_params():>12,d} parameters")
    return 0
