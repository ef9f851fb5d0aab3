"""Atomic outputs: a file or folder appears complete under its final name, or not at all."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_dir(root: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``root``; on success rename it to ``root``.

    On any exception the temporary folder is deleted and ``root`` is left as it was.

    Args:
        root: the final folder.
        overwrite: replace an existing ``root``; otherwise an existing ``root`` raises.

    Raises:
        FileExistsError: when ``root`` exists and ``overwrite`` is false.
    """
    root = Path(root)
    if root.exists() and not overwrite:
        raise FileExistsError(f"{root} already exists; pass overwrite=True or choose another folder.")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    try:
        yield tmp
        if root.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".old", dir=root.parent))
            os.replace(root, old / root.name)
            try:
                os.replace(tmp, root)
            except OSError:
                os.replace(old / root.name, root)  # put the previous folder back
                raise
            finally:
                if not (old / root.name).exists() or root.exists():
                    shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (creating the parent folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_model(model, path: str | os.PathLike) -> Path:
    """Save a Keras ``model`` to ``path`` (a ``.keras`` file) through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # Keras picks the format from the suffix
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def json_default(obj):
    """``json.dumps`` fallback for NumPy scalars and arrays and paths."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def write_json(obj, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented JSON to ``path`` through a temporary file and a rename."""
    return write_text(json.dumps(obj, indent=2, sort_keys=False, default=json_default) + "\n", path)
