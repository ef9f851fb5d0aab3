"""The one error handler of every ``python -m fer`` command: expected errors become one line and an exit code.

==================================================  =====  ==========================================
what went wrong                                     exit   what the user sees
==================================================  =====  ==========================================
:class:`fer.errors.UsageError` (a bad argument)      2      ``fer COMMAND: error: MESSAGE``
an expected failure (:data:`EXPECTED`: a missing     1      ``fer COMMAND: error: MESSAGE``
file, unreadable data, a missing optional package,
:class:`fer.errors.CommandError`)
Ctrl-C                                               130    ``fer COMMAND: interrupted``
anything else (a bug)                                1      Python's traceback
==================================================  =====  ==========================================

With the environment variable ``FER_DEBUG=1`` every error keeps its traceback.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable

from fer.errors import CommandError, UsageError

#: The errors a command expects (bad input, a missing file or package): one line, exit code 1.
EXPECTED = (FileNotFoundError, ValueError, OSError, ImportError, CommandError)

Command = Callable[[argparse.Namespace], "int | None"]


def handled(name: str) -> Callable[[Command], Callable[[argparse.Namespace], int]]:
    """Decorate the function a command runs (``func(args) -> exit code | None``) with :func:`run_handled`.

    Example:
        >>> @handled("hello")
        ... def hello(args):
        ...     raise FileNotFoundError("no such file: x.csv")
        >>> hello(argparse.Namespace())  # doctest: +SKIP
        fer hello: error: no such file: x.csv
        1
    """

    def decorate(func: Command) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(func)
        def run(args: argparse.Namespace) -> int:
            return run_handled(name, func, args)

        return run

    return decorate


def run_handled(name: str, func: Command, args: argparse.Namespace) -> int:
    """Run ``func(args)``; return its exit code (0 for ``None``), or report an expected error (see the module)."""
    from fer.provenance import command_line

    if getattr(args, "command_line", None) is None:  # what results record (fer.cli.main may set it)
        args.command_line = command_line()
    debug = bool(os.environ.get("FER_DEBUG"))
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"fer {name}: interrupted", file=sys.stderr)
        return 130
    except EXPECTED as err:
        if debug:
            raise
        text = " ".join(str(err).split("\n")) or type(err).__name__
        print(f"fer {name}: error: {text}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1
