"""Exporting any Dataset to the Kaggle image-folder layout or the FER2013 CSV format (atomically)."""

from __future__ import annotations

import os
from pathlib import Path

from fer.data.atomic import atomic_dir
from fer.data.dataset import Dataset
from fer.data.fer2013 import write_fer2013_csv
from fer.data.images import encode_png

FORMATS: tuple[str, ...] = ("folders", "csv")


def write_image_folders(ds: Dataset, root: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``ds`` as ``root/<split>/<class>/<i>.png`` (Kaggle's layout; ``i`` = the row number, 6+ digits).

    The folder appears complete or not at all: images are written into a temporary folder next to
    ``root`` which is renamed at the end; on any error nothing is left behind. Class folders use the
    dataset's class names (``ds.classes``); soft labels are not stored. Read it back with
    :func:`fer.data.load_image_folders` (``classes=ds.classes`` for non-FER2013 class lists).

    Args:
        ds: the dataset (grayscale or RGB).
        root: the output folder.
        overwrite: replace an existing ``root`` (atomically); otherwise an existing ``root`` raises.

    Returns:
        ``root``.

    Raises:
        FileExistsError: ``root`` exists and ``overwrite`` is false.
    """
    root = Path(root)
    width = max(6, len(str(len(ds))))
    with atomic_dir(root, overwrite=overwrite) as tmp:
        for split in ds.splits():
            for name in ds.classes:
                (tmp / split / name).mkdir(parents=True, exist_ok=True)
        for i in range(len(ds)):
            encode_png(ds.images[i], tmp / str(ds.split[i]) / ds.classes[ds.labels[i]] / f"{i:0{width}d}.png")
    return root


def write_dataset(ds: Dataset, path: str | os.PathLike, format: str = "folders", *, overwrite: bool = False) -> Path:
    """Export ``ds`` as image folders (:func:`write_image_folders`) or a FER2013 CSV
    (:func:`fer.data.write_fer2013_csv`).

    The CSV format holds the 7 FER2013 emotions in grayscale (RGB is converted to luma); a ``.gz``
    suffix compresses it. Both writers are atomic.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        ValueError: unknown format, or ``"csv"`` for a dataset whose classes are not the FER2013 emotions.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    path = Path(path)
    if format == "folders":
        return write_image_folders(ds, path, overwrite=overwrite)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True or choose another file.")
    return write_fer2013_csv(ds, path)
