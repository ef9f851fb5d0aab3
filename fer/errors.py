"""The errors a command reports as one line: a bad argument (exit 2) and a failure it cannot get past (exit 1)."""

from __future__ import annotations


class UsageError(ValueError):
    """An argument cannot work; the message is one line naming the argument (and its flag) and the fix.

    ``python -m fer`` prints it without a traceback and exits 2, like argparse's own usage errors.
    """


class CommandError(Exception):
    """A command cannot go on for a reason outside its arguments (no camera, no face found...); the message
    is complete and says what to do. ``python -m fer`` prints it as one line and exits 1."""
