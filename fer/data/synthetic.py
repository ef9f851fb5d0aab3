"""Synthetic cartoon faces whose expression a small CNN can learn in seconds (for tests and notebooks).

Each class differs visibly in mouth curve / opening / width, brow angle / height and eye opening, e.g.
*happy* smiles, *sad* frowns with inner brows raised, *surprise* has raised brows, wide eyes and a round
open mouth, *angry* has a brow V and a tight mouth, *disgust* a lopsided sneer with a wrinkled nose,
*fear* wide eyes with worried brows and a stretched mouth, *contempt* a one-sided smirk. Every face is
jittered (position, scale, rotation, brightness, contrast, background, noise, blur, expression strength),
so neighbouring expressions overlap and a model needs to learn, not look up.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from fer.data.atomic import atomic_dir
from fer.data.dataset import SPLITS, Dataset
from fer.data.fer2013 import SPLIT_TO_USAGE, write_fer2013_csv
from fer.labels import EMOTIONS, FERPLUS_VOTE_COLUMNS, canonical

#: Expression parameters per class: mouth curve (+ smile), mouth opening, mouth width, mouth tilt
#: (one corner up), brow angle (+ inner ends down), brow height, eye opening, nose wrinkle.
EXPRESSIONS: dict[str, dict[str, float]] = {
    "angry":    dict(curve=-0.35, open=0.10, width=0.55, tilt=0.0, brow=0.80, brow_h=0.70, eye=0.65, wrinkle=0.0),
    "disgust":  dict(curve=-0.25, open=0.05, width=0.60, tilt=0.45, brow=0.35, brow_h=0.80, eye=0.45, wrinkle=1.0),
    "fear":     dict(curve=-0.15, open=0.55, width=0.85, tilt=0.0, brow=-0.55, brow_h=1.30, eye=1.35, wrinkle=0.0),
    "happy":    dict(curve=0.95, open=0.30, width=0.95, tilt=0.0, brow=0.0, brow_h=1.00, eye=0.70, wrinkle=0.0),
    "sad":      dict(curve=-0.80, open=0.00, width=0.65, tilt=0.0, brow=-0.70, brow_h=1.05, eye=0.75, wrinkle=0.0),
    "surprise": dict(curve=0.00, open=1.00, width=0.45, tilt=0.0, brow=0.0, brow_h=1.60, eye=1.45, wrinkle=0.0),
    "neutral":  dict(curve=0.00, open=0.00, width=0.70, tilt=0.0, brow=0.0, brow_h=1.00, eye=1.00, wrinkle=0.0),
    "contempt": dict(curve=0.10, open=0.00, width=0.65, tilt=0.70, brow=0.10, brow_h=0.95, eye=0.85, wrinkle=0.0),
}
#: Per-sample standard deviation of each expression parameter (how much neighbouring classes overlap).
JITTER: dict[str, float] = dict(curve=0.22, open=0.12, width=0.10, tilt=0.15, brow=0.22, brow_h=0.15,
                                eye=0.15, wrinkle=0.3)
SUPERSAMPLE = 4  # draw at 4x and shrink with area interpolation: smooth, anti-aliased strokes


def draw_face(params: dict[str, float], size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one jittered ``size x size`` grayscale face (``uint8``, ``H x W``) with expression ``params``."""
    s = size * SUPERSAMPLE
    # background: a random gray level with a random linear gradient
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / s
    g = rng.uniform(-30, 30, size=2)
    canvas = rng.uniform(58, 113) + g[0] * (xx - 0.5) + g[1] * (yy - 0.5)
    canvas = np.clip(canvas, 0, 255).astype(np.uint8)

    scale = rng.uniform(0.85, 1.1)
    cx = s / 2 + rng.normal(0, 0.04) * s
    cy = s / 2 + rng.normal(0, 0.04) * s
    u = s * scale  # face unit length
    skin = float(np.clip(rng.uniform(162, 208), 0, 255))
    dark = float(np.clip(skin - rng.uniform(90, 140), 0, 255))
    th = max(1, int(round(u * rng.uniform(0.028, 0.04))))
    aa = cv2.LINE_AA

    def pt(x: float, y: float) -> tuple[int, int]:
        return int(round(cx + x * u)), int(round(cy + y * u))

    cv2.ellipse(canvas, pt(0, 0), (int(0.36 * u), int(0.46 * u)), 0, 0, 360, skin, -1, aa)
    # eyes
    eye_y = -0.08
    for side in (-1, 1):
        ex = side * 0.15
        h = max(0.008, 0.035 * params["eye"])
        cv2.ellipse(canvas, pt(ex, eye_y), (int(0.065 * u), max(1, int(h * u))), 0, 0, 360, dark, -1, aa)
        # brows: inner end at x=±0.05, outer at ±0.25; positive angle pulls the inner end down
        by = eye_y - 0.085 * params["brow_h"] - 0.02
        inner = pt(side * 0.05, by + 0.045 * params["brow"])
        outer = pt(side * 0.25, by - 0.045 * params["brow"])
        cv2.line(canvas, inner, outer, dark, int(th * 1.4), aa)
    # nose, and wrinkles for disgust
    cv2.line(canvas, pt(0, -0.02), pt(-0.02, 0.1), dark, th, aa)
    if params["wrinkle"] > 0.5:
        for side in (-1, 1):
            cv2.line(canvas, pt(side * 0.05, 0.0), pt(side * 0.09, 0.06), dark, th, aa)
    # mouth: upper lip y = my - curve * d * (x / hw)^2 + tilt * d * x / hw, lower lip adds the opening
    my, hw, d = 0.22, 0.19 * params["width"], 0.07
    xs = np.linspace(-1, 1, 25)
    upper_y = my - params["curve"] * d * (xs ** 2 - 0.3) - params["tilt"] * d * 0.8 * xs
    lower_y = upper_y + max(0.0, params["open"]) * 0.13 * (1 - xs ** 2)
    upper = np.array([pt(x * hw, y) for x, y in zip(xs, upper_y)], dtype=np.int32)
    lower = np.array([pt(x * hw, y) for x, y in zip(xs, lower_y)], dtype=np.int32)
    if params["open"] > 0.08:
        cv2.fillPoly(canvas, [np.concatenate([upper, lower[::-1]])], dark, aa)
    else:
        cv2.polylines(canvas, [upper], False, dark, int(th * 1.3), aa)

    angle = rng.normal(0, 7)
    m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    canvas = cv2.warpAffine(canvas, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.15:
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(1, 4))
    img = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    contrast = rng.uniform(0.8, 1.1)
    img = (img - img.mean()) * contrast + img.mean() + rng.uniform(-12, 12)
    img += rng.normal(0, rng.uniform(1, 6), size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_synthetic(
    n_per_class: int = 100,
    size: int = 48,
    seed: int = 0,
    splits: Sequence[float] = (0.7, 0.15, 0.15),
    classes: Sequence[str] = EMOTIONS,
) -> Dataset:
    """Generate a small labelled face dataset with train / val / test splits.

    Args:
        n_per_class: faces per class.
        size: image side (grayscale ``size x size x 1``).
        seed: the random seed; the same arguments always give the same pixels, labels and splits.
        splits: fractions of each class for train, val, test (summing to 1; stratified by class).
        classes: class names in label order, from :data:`fer.labels.EMOTIONS` and ``"contempt"``.

    Returns:
        A Dataset with ``source="synthetic"`` and ``origin`` = the face's number.
    """
    if n_per_class < 1 or size < 16:
        raise ValueError(f"need n_per_class >= 1 and size >= 16, got {n_per_class} and {size}")
    fractions = np.asarray(splits, dtype=np.float64)
    if fractions.shape != (3,) or (fractions < 0).any() or not np.isclose(fractions.sum(), 1):
        raise ValueError(f"splits must be 3 fractions (train, val, test) summing to 1, got {splits!r}")
    names = tuple(canonical(c) for c in classes)
    unknown = [c for c in names if c not in EXPRESSIONS]
    if unknown:
        raise ValueError(f"no synthetic expression for {unknown}; available: {list(EXPRESSIONS)}")
    rng = np.random.default_rng(seed)
    n = n_per_class * len(names)
    images = np.empty((n, size, size, 1), dtype=np.uint8)
    labels = np.repeat(np.arange(len(names)), n_per_class)
    for i, label in enumerate(labels):
        base = EXPRESSIONS[names[label]]
        strength = rng.uniform(0.6, 1.15)  # weak expressions look more neutral
        params = {k: (v * strength if k not in ("width", "brow_h", "eye") else 1 + (v - 1) * strength)
                  + rng.normal(0, JITTER[k]) for k, v in base.items()}
        images[i, ..., 0] = draw_face(params, size, rng)
    # stratified split with exact global proportions: rank rows by their position inside their
    # (shuffled) class, then cut the whole ranking at the split fractions
    position = np.empty(n)
    for label in range(len(names)):
        idx = rng.permutation(np.flatnonzero(labels == label))
        position[idx] = (np.arange(len(idx)) + rng.random()) / len(idx)
    ranking = np.argsort(position, kind="stable")
    cut = np.rint(np.cumsum(fractions) * n).astype(int)
    split = np.empty(n, dtype=object)
    split[ranking[:cut[0]]] = SPLITS[0]
    split[ranking[cut[0]:cut[1]]] = SPLITS[1]
    split[ranking[cut[1]:]] = SPLITS[2]
    order = rng.permutation(n)
    return Dataset(images[order], labels[order], split[order].astype(str), np.full(n, "synthetic"), order,
                   names, meta={"name": "synthetic", "seed": seed, "n_per_class": n_per_class, "size": size})


def write_synthetic(
    root: str | os.PathLike,
    format: str = "csv",
    *,
    n_per_class: int = 20,
    size: int = 48,
    seed: int = 0,
) -> Path | tuple[Path, Path]:
    """Write synthetic faces in a real dataset's file format, to test the readers end to end.

    Formats and what is returned (pass it to the matching reader):

    * ``"csv"`` → ``root/fer2013.csv`` (Kaggle FER2013 CSV) for :func:`fer.data.load_fer2013_csv`;
    * ``"folders"`` → ``root/images`` (``<split>/<emotion>/*.png``) for :func:`fer.data.load_image_folders`;
    * ``"ferplus"`` → ``(root/fer2013.csv, root/fer2013new.csv)`` with 10 crowd votes per face (mostly
      for the drawn emotion; rows 3, 23, 43... are voted *not a face*, rows 11, 31, ... are ties) for
      :func:`fer.data.load_ferplus`;
    * ``"ckplus"`` → ``root/CK+48`` (``<anger|contempt|...>/S005_001_00000010.png``, no neutral) for
      :func:`fer.data.load_ckplus`.
    """
    root = Path(root)
    if format == "csv":
        return write_fer2013_csv(make_synthetic(n_per_class, size, seed), root / "fer2013.csv")
    if format == "folders":
        from fer.data.writers import write_image_folders
        return write_image_folders(make_synthetic(n_per_class, size, seed), root / "images")
    if format == "ferplus":
        ds = make_synthetic(n_per_class, size, seed)
        csv = write_fer2013_csv(ds, root / "fer2013.csv")
        return csv, _write_votes(ds, root / "fer2013new.csv", seed)
    if format == "ckplus":
        names = tuple(c for c in EMOTIONS if c != "neutral") + ("contempt",)
        ds = make_synthetic(n_per_class, size, seed, classes=names)
        return _write_ckplus(ds, root / "CK+48", seed)
    raise ValueError(f"format must be 'csv', 'folders', 'ferplus' or 'ckplus', got {format!r}")


def _write_votes(ds: Dataset, path: Path, seed: int) -> Path:
    """FER+-style votes for a 7-class synthetic dataset, row-aligned with its fer2013.csv."""
    import pandas as pd

    rng = np.random.default_rng(seed + 1)
    cols = list(FERPLUS_VOTE_COLUMNS)
    votes = np.zeros((len(ds), len(cols)), dtype=np.int64)
    column_of = {canonical(c): j for j, c in enumerate(cols[:8])}
    for i, label in enumerate(ds.labels):
        if i % 20 == 3:
            votes[i, cols.index("NF")] = 10  # not a face (every 20th row)
        elif i % 20 == 11:
            a, b = rng.choice(8, size=2, replace=False)
            votes[i, a] = votes[i, b] = 5  # a tie
        else:
            top = rng.integers(5, 11)
            votes[i, column_of[ds.classes[label]]] = top
            for j in rng.integers(0, len(cols) - 1, size=10 - top):  # scattered votes, never NF
                votes[i, j] += 1
    df = pd.DataFrame(votes, columns=cols)
    df.insert(0, "Image name", [f"fer{i:07d}.png" for i in range(len(ds))])
    df.insert(0, "Usage", [SPLIT_TO_USAGE[s] for s in ds.split])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_ckplus(ds: Dataset, root: Path, seed: int) -> Path:
    """CK+48 layout: 3 frames per sequence, several sequences per subject, CK+ file names."""
    from fer.data.ckplus import CKPLUS_FOLDER_NAMES
    from fer.data.images import encode_png

    rng = np.random.default_rng(seed + 2)
    n_subjects = max(3, len(ds) // 12)
    subject = rng.integers(0, n_subjects, size=len(ds)) * 5 + 10
    with atomic_dir(root) as tmp:
        for i in range(len(ds)):
            name = ds.classes[ds.labels[i]]
            folder = tmp / CKPLUS_FOLDER_NAMES.get(name, name)
            folder.mkdir(exist_ok=True)
            seq, frame = divmod(i, 3)
            encode_png(ds.images[i], folder / f"S{subject[i]:03d}_{seq % 1000:03d}_{frame + 10:08d}.png")
    return root
