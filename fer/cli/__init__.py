"""The command line, ``python -m fer COMMAND ...``: one module per command group, one error handler.

::

    python -m fer train | evaluate | compare | recalibrate | models     # train and score models
    python -m fer predict | webcam | serve | export                     # use a trained model
    python -m fer card | audit                                          # model card, dataset leakage audit
    python -m fer bench data | inference | detect | serve | landmarks   # benchmarks → results/bench_*.json
    python -m fer bench peer | allocator                                # (results/bench_peer.json ...)
    python -m fer study architectures | losses | landmarks | framing    # studies → results/<study>/
    python -m fer landmarks reference                                   # rebuild a shipped landmark asset

Run ``python -m fer COMMAND --help`` for each command's options. Each module of this package only parses
its command's arguments and calls the library (:mod:`fer.train`, :mod:`fer.inference`...); every command runs
under :func:`fer.cli.handler.handled`: a bad argument exits 2, an expected failure (a missing file, bad data)
exits 1, both with one line on stderr; Ctrl-C exits 130; set FER_DEBUG=1 for tracebacks.
"""

from __future__ import annotations

import argparse
import importlib

#: The command modules of this package, in the order ``python -m fer --help`` lists their commands.
MODULES = ("train", "evaluate", "compare", "predict", "export", "recalibrate", "models", "card", "audit", "bench",
           "study", "serve", "landmarks")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m fer``: each module of :data:`MODULES` registers its command(s)."""
    parser = argparse.ArgumentParser(prog="python -m fer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in MODULES:
        importlib.import_module(f"fer.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None, *, command: str | None = None) -> int:
    """Parse ``argv`` (default: the process's arguments), run the command, return its exit code.

    Args:
        argv: the arguments after ``python -m fer``.
        command: the command line results record (default: the process's, :func:`fer.provenance.command_line`).

    Example:
        >>> from fer.cli import main
        >>> main(["evaluate", "--model", "models/fer2013_default.keras", "--data", "synthetic:20"])  # doctest: +SKIP
        0
    """
    args = build_parser().parse_args(argv)
    args.command_line = command
    return int(args.func(args) or 0)


def alias(words: str) -> int:
    """Run ``python -m fer WORDS ARGS...`` for an old module name (``python -m fer.bench_inference ARGS``);
    results record the command as it was typed."""
    import sys

    return main([*words.split(), *sys.argv[1:]])
