"""Reader and writer for the Kaggle ``fer2013.csv`` format (emotion, pixels, Usage)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from fer.data.dataset import Dataset
from fer.data.errors import DataError, SkipReport, check_on_error
from fer.labels import EMOTIONS

#: Kaggle ``Usage`` values and the project's split names.
USAGE_TO_SPLIT: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SPLIT_TO_USAGE: dict[str, str] = {v: k for k, v in USAGE_TO_SPLIT.items()}
REQUIRED_COLUMNS = ("emotion", "pixels")


def load_fer2013_csv(path: str | os.PathLike, *, size: int | None = None, on_error: str = "raise") -> Dataset:
    """Read the Kaggle ``fer2013.csv`` (or ``.csv.gz``) into a :class:`Dataset`.

    ``Usage`` Training → ``"train"``, PublicTest → ``"val"``, PrivateTest → ``"test"``; a file
    without a ``Usage`` column is all ``"train"``. Missing splits are fine.

    Args:
        path: the CSV file (gzip, bz2, zip and xz compression are recognised by extension).
        size: the square image side; ``None`` infers it from the first row (48 for FER2013).
        on_error: ``"raise"`` stops at the first bad row with a message naming it;
            ``"skip"`` drops bad rows and warns with a summary (also kept in ``ds.meta["skipped"]``).

    Returns:
        A Dataset of ``uint8`` images ``N x size x size x 1`` with labels in :data:`fer.labels.EMOTIONS` order.
    """
    check_on_error(on_error)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file. Download fer2013.csv from Kaggle (see data/README.md).")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc}). Expected the Kaggle fer2013.csv.") from exc
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: header {list(df.columns)} lacks column(s) {missing}; "
            "expected the Kaggle header 'emotion,pixels,Usage'."
        )
    report = SkipReport(str(path))
    pixels = df["pixels"].str.strip()
    n_values = pixels.str.count(" ") + 1
    if size is None:
        first = int(n_values.iloc[0]) if len(df) else 48 * 48
        size = int(round(first ** 0.5))
    bad = np.zeros(len(df), dtype=bool)
    reasons: dict[int, str] = {}

    def flag(mask: np.ndarray, reason) -> None:
        for i in np.flatnonzero(mask & ~bad):
            reasons[int(i)] = reason(int(i))
        bad[mask] = True

    flag(~pixels.str.fullmatch(r"[0-9 ]*").to_numpy(), lambda i: "pixels contain non-numeric characters")
    flag((n_values != size * size).to_numpy(),
         lambda i: f"has {n_values.iloc[i]} pixel values, expected {size}x{size}={size * size}")
    emotion = pd.to_numeric(df["emotion"], errors="coerce")
    flag(~emotion.isin(range(len(EMOTIONS))).to_numpy(),
         lambda i: f"emotion {df['emotion'].iloc[i]!r} is not an integer 0..{len(EMOTIONS) - 1}")
    if "Usage" in df.columns:
        usage = df["Usage"].str.strip()
        flag(~usage.isin(list(USAGE_TO_SPLIT)).to_numpy(),
             lambda i: f"Usage {usage.iloc[i]!r} is not one of {list(USAGE_TO_SPLIT)}")
    else:
        usage = pd.Series(["Training"] * len(df))
    if bad.any():
        for i in sorted(reasons):
            # +2: one for the header line, one because CSV lines count from 1
            where = f"row {i} (line {i + 2})"
            if on_error == "raise":
                raise DataError(f"{path}: {where} {reasons[i]}. Fix or remove that row, or pass on_error='skip'.")
            report.add(where, reasons[i])
    keep = ~bad
    values = np.fromstring(" ".join(pixels[keep].tolist()), dtype=np.int32, sep=" ") if keep.any() else np.zeros(0)
    if values.size != int(keep.sum()) * size * size or (values.size and values.max() > 255):
        raise DataError(f"{path}: pixel values must be integers 0..255 separated by single spaces.")
    images = values.astype(np.uint8).reshape(-1, size, size, 1)
    index = np.flatnonzero(keep)
    report.warn()
    ds = Dataset(
        images=images,
        labels=emotion[keep].to_numpy(dtype=np.int64),
        split=usage[keep].map(USAGE_TO_SPLIT).to_numpy(dtype=object).astype(str),
        source=np.full(len(index), "fer2013"),
        origin=index,
        classes=EMOTIONS,
        meta={"name": path.name, "path": str(path), "skipped": report.skipped},
    )
    return ds


def write_fer2013_csv(ds: Dataset, path: str | os.PathLike) -> Path:
    """Write a grayscale Dataset as a Kaggle-style ``fer2013.csv`` (atomically: temp file, then rename).

    Images with 3 channels are converted to grayscale (ITU-R 601 luma).
    """
    path = Path(path)
    if tuple(ds.classes) != EMOTIONS:
        raise ValueError(f"fer2013.csv stores the 7 FER2013 emotions; this dataset has classes {ds.classes}")
    images = to_gray(ds.images)
    flat = images.reshape(len(ds), -1)
    pixels = [" ".join(map(str, row)) for row in flat.tolist()]
    df = pd.DataFrame({"emotion": ds.labels, "pixels": pixels,
                       "Usage": [SPLIT_TO_USAGE.get(s, s) for s in ds.split]})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        df.to_csv(tmp, index=False, compression="gzip" if path.suffix == ".gz" else None)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def to_gray(images: np.ndarray) -> np.ndarray:
    """``N x H x W x C`` uint8 → ``N x H x W x 1`` uint8 (luma for 3 channels)."""
    if images.shape[-1] == 1:
        return images
    rgb = images[..., :3].astype(np.float32)
    gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None]
