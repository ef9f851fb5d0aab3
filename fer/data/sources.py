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


#: Where each dataset's file or folder sits below a data root (see data/README.md).
DATASET_FILES: dict[str, tuple[str, ...]] = {
    "fer2013": ("fer2013/fer2013.csv", "fer2013/fer2013.csv.gz", "fer2013.csv", "fer2013.csv.gz"),
    "ferplus": ("ferplus/fer2013new.csv", "fer2013new.csv"),
    "ckplus": ("ckplus/CK+48", "CK+48"),
    "fer2013_images": ("fer2013_images",),
}


def data_roots() -> list[Path]:
    """Folders searched for datasets, in order: ``$FER_DATA_ROOT``, the repository's ``data/``, and
    ``../shared/data`` beside the repository (the course machines' shared copy)."""
    repo = Path(__file__).resolve().parents[2]
    roots = [Path(os.environ["FER_DATA_ROOT"])] if os.environ.get("FER_DATA_ROOT") else []
    return roots + [repo / "data", repo.parent / "shared" / "data"]


def find_dataset(name: str) -> Path | None:
    """The path of dataset ``name`` (``fer2013``, ``ferplus``, ``ckplus``, ``fer2013_images``) in the
    first data root that has it, or ``None`` when it is nowhere (callers then fall back to ``synthetic``)."""
    if name not in DATASET_FILES:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(DATASET_FILES)}")
    for root in data_roots():
        for rel in DATASET_FILES[name]:
            if (root / rel).exists():
                return root / rel
    return None
