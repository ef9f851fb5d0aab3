"""File output, the one place for it: a file or folder appears complete under its final name, or not at all.

Every result the project writes (text, JSON, CSV, NumPy archives, Keras models, figures) goes through
:func:`atomic_path` (a temporary name next to the target, then a rename) or :func:`atomic_dir` for a folder,
so an interrupted command never leaves a half-written file under a name that later steps trust.

Example:
    >>> from fer.files import write_json
    >>> write_json({"accuracy": 0.71}, "results/demo/metrics_val.json")  # doctest: +SKIP
    PosixPath('results/demo/metrics_val.json')
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
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


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file name next to ``path``; when the block succeeds rename it to ``path``.

    The temporary name keeps ``path``'s suffix, for writers that choose the format by it (Keras,
    OpenCV, matplotlib). On any exception the temporary file is deleted and ``path`` is left as it was.
    The parent folder is created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (creating the parent folder)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_csv(rows: Iterable[Sequence], path: str | os.PathLike, header: Sequence[str]) -> Path:
    """Write a ``header`` line and ``rows`` as CSV to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return Path(path)


def save_model(model, path: str | os.PathLike) -> Path:
    """Save a Keras ``model`` to ``path`` (a ``.keras`` file) through a temporary file and a rename."""
    with atomic_path(path) as tmp:  # Keras picks the format from the suffix
        model.save(tmp)
    return Path(path)


def write_npz(path: str | os.PathLike, **arrays) -> Path:
    """Write ``arrays`` as an uncompressed ``.npz`` archive to ``path`` through a temporary file and a rename.

    The archive is written through an open file, so NumPy does not append a second ``.npz`` to the name.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(path)


def save_figure_png(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Write a matplotlib ``fig`` as a PNG (``bbox_inches="tight"``) to ``path`` through a temporary file."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi, bbox_inches="tight")
    return Path(path)


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
