"""Reader and writer for the Kaggle ``fer2013.csv`` format (emotion, pixels, Usage)."""

from __future__ import annotations

import os
import re
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from fer.data.dataset import Dataset
from fer.data.errors import DataError, SkipReport, check_on_error
from fer.labels import EMOTIONS
from fer.preprocess import LUMA

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
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: the file is empty. Expected the Kaggle fer2013.csv "
                        "(header 'emotion,pixels,Usage').") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc}). Expected the Kaggle fer2013.csv.") from exc
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: header {list(df.columns)} lacks column(s) {missing}; "
            "expected the Kaggle header 'emotion,pixels,Usage'."
        )
    if len(df) == 0:
        raise DataError(f"{path}: the file has a header but no rows. Expected one face per row.")
    report = SkipReport(str(path))
    # Python's str methods are much faster here than pandas' regex-based .str accessors.
    rows = [r.strip() for r in df["pixels"].tolist()]
    n_values = np.array([r.count(" ") + 1 if r else 0 for r in rows])
    if size is None:
        # the most common pixel count, so one bad first row does not make every other row "bad"
        counts, freq = np.unique(n_values, return_counts=True)
        size = int(round(float(counts[freq.argmax()]) ** 0.5))
    bad = np.zeros(len(df), dtype=bool)
    reasons: dict[int, str] = {}

    def flag(mask: np.ndarray, reason) -> None:
        for i in np.flatnonzero(mask & ~bad):
            reasons[int(i)] = reason(int(i))
        bad[mask] = True

    def flag_characters(mask: np.ndarray) -> None:
        """Name rows (among ``mask``) with characters other than digits and single spaces (slow: only on demand).

        The more specific reason replaces one already recorded (a wrong count caused by a stray character).
        """
        digits = re.compile(r"[0-9 ]*")
        for i in np.flatnonzero(mask):
            if digits.fullmatch(rows[i]) is None:
                reasons[int(i)] = "pixels contain non-numeric characters"
            elif "  " in rows[i]:
                reasons[int(i)] = "pixel values are separated by more than one space"
            else:
                continue
            bad[i] = True

    flag(n_values != size * size,
         lambda i: f"has {n_values[i]} pixel values, expected {size}x{size}={size * size}")
    if bad.any():
        flag_characters(bad.copy())  # name the real cause when a wrong count comes from a stray character
    emotion = pd.to_numeric(df["emotion"], errors="coerce")
    flag(~emotion.isin(range(len(EMOTIONS))).to_numpy(),
         lambda i: f"emotion {df['emotion'].iloc[i]!r} is not an integer 0..{len(EMOTIONS) - 1}")
    if "Usage" in df.columns:
        usage = df["Usage"].str.strip()
        flag(~usage.isin(list(USAGE_TO_SPLIT)).to_numpy(),
             lambda i: f"Usage {usage.iloc[i]!r} is not one of {list(USAGE_TO_SPLIT)}")
    else:
        usage = pd.Series(["Training"] * len(df))

    def parse(keep: np.ndarray) -> np.ndarray | None:
        """All pixel values of the ``keep`` rows, or ``None`` when a token is not an integer."""
        if not keep.any():
            return np.zeros(0, dtype=np.int32)
        try:
            with warnings.catch_warnings():  # older numpy warns and stops at a non-numeric token
                warnings.simplefilter("ignore", DeprecationWarning)
                return np.fromstring(" ".join([rows[i] for i in np.flatnonzero(keep)]), dtype=np.int32, sep=" ")
        except ValueError:  # newer numpy raises instead
            return None

    values = parse(~bad)
    if values is None or values.size != int((~bad).sum()) * size * size:
        # a row has the right number of spaces but a non-numeric token or a double space: find it
        flag_characters(~bad)
        values = parse(~bad)
        if values is None or values.size != int((~bad).sum()) * size * size:
            raise DataError(f"{path}: pixel values must be integers 0..255 separated by single spaces.")
    values = values.reshape(-1, size * size)
    parsed_rows = np.flatnonzero(~bad)
    out_of_range = np.zeros(len(df), dtype=bool)
    if len(values):
        out_of_range[parsed_rows] = (values.min(axis=1) < 0) | (values.max(axis=1) > 255)
    flag(out_of_range, lambda i: "has pixel values outside 0..255")
    if bad.any():
        for i in sorted(reasons):
            # +2: one for the header line, one because CSV lines count from 1
            where = f"row {i} (line {i + 2})"
            if on_error == "raise":
                raise DataError(f"{path}: {where} {reasons[i]}. Fix or remove that row, or pass on_error='skip'.")
            report.add(where, reasons[i])
    keep = ~bad
    values = values[keep[parsed_rows]]
    if not keep.any():
        raise DataError(f"{path}: every row was bad and skipped ({report.skipped[:3]} ...). "
                        "Expected the Kaggle fer2013.csv format.")
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
        meta={"name": path.name, "path": str(path), "rows": len(df), "skipped": report.skipped},
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
    gray = rgb @ LUMA
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None]
