"""The error a bad argument raises (unknown model, ``epochs < 1``, an unwritable ``--out``...): the CLI exits 2."""

from __future__ import annotations


class UsageError(ValueError):
    """An argument cannot work; the message is one line naming the argument (and its flag) and the fix.

    ``python -m fer`` prints it without a traceback and exits 2, like argparse's own usage errors.
    """
