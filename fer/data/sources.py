"""Turn a ``--data`` argument (a fer2013.csv, an image-folder tree or ``synthetic``) into a Dataset."""

from __future__ import annotations

import os
from pathlib import Path

from fer.data.dataset import Dataset


def load_dataset(spec: str | os.PathLike, *, seed: int = 0) -> Dataset:
    """Load the dataset that ``spec`` names.

    Args:
        spec: ``"synthetic"`` (the generated faces of :func:`fer.data.make_synthetic`), a Kaggle
            ``fer2013.csv`` / ``.csv.gz`` file, or a folder in the Kaggle layout
            (``train|test[/val]/<emotion>/*.png``) or a flat ``<emotion>/*`` layout.
        seed: seed of the synthetic set.

    Raises:
        FileNotFoundError: when ``spec`` is neither ``synthetic`` nor an existing file or folder.
    """
    if str(spec) == "synthetic":
        from fer.data.synthetic import make_synthetic

        return make_synthetic(seed=seed)
    path = Path(spec)
    if path.is_dir():
        from fer.data.folders import load_image_folders

        return load_image_folders(path)
    if path.is_file():
        from fer.data.fer2013 import load_fer2013_csv

        return load_fer2013_csv(path)
    raise FileNotFoundError(
        f"--data {spec!r}: no such file or folder. Pass a fer2013.csv(.gz), an image-folder tree, "
        "or 'synthetic'; data/README.md explains how to download FER2013."
    )
