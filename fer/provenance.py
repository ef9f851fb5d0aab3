"""Where a result came from: the command line that produced it, as someone would retype it."""

from __future__ import annotations

import hashlib
import os
import shlex
import sys
from pathlib import Path


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (hex), to tie a result to the exact model or data file it used."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def weights_sha256(model) -> str:
    """The SHA-256 (hex) of a model's weights: every array of ``model.get_weights()``, in that order, as
    little-endian float32 bytes, concatenated.

    Two models with the same architecture and the same weights give the same hash, whatever the ``.keras``
    file's metadata (Keras writes the save date into it, so the files' bytes differ between identical runs).
    """
    import numpy as np

    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
    return digest.hexdigest()


def command_line(argv: list[str] | None = None) -> str:
    """The current command as ``python -m module args...`` (or ``python script args...``).

    ``sys.argv[0]`` is a file path even when Python was started with ``-m``; the ``__main__``
    module's spec recovers the module name so results record the command the README shows.
    """
    argv = list(sys.argv if argv is None else argv)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and argv[:1] == ["-c"]:  # a pytest-xdist worker: its own argv is only execnet's "-c"
        return f"pytest (xdist worker {worker})"
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        module = spec.name.removesuffix(".__main__")
        return shlex.join(["python", "-m", module, *argv[1:]])
    if argv and argv[0].endswith(("pytest", "ipykernel_launcher.py", "-c")):
        return shlex.join(argv)
    return shlex.join(["python", *argv]) if argv else "python"
