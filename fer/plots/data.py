"""Figures of datasets: class counts per split and sample faces per class."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt  # pyplot-managed figures, so notebooks show them inline
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from fer.data.dataset import SPLITS, Dataset


def _counts_frame(data) -> pd.DataFrame:
    """Long table ``split, class, count`` from a Dataset, ``{split: {class: n}}`` or ``{class: n}``."""
    if isinstance(data, Dataset):
        rows = []
        for split in data.splits():
            sub_labels = data.labels[data.split == split]
            counts = np.bincount(sub_labels, minlength=data.num_classes)
            rows += [(split, name, int(counts[i])) for i, name in enumerate(data.classes)]
        return pd.DataFrame(rows, columns=["split", "class", "count"])
    if isinstance(data, pd.DataFrame):
        if {"class", "count"} <= set(data.columns):
            frame = data.copy()
            if "split" not in frame:
                frame["split"] = "all"
            return frame[["split", "class", "count"]]
        # wide table: index = classes, columns = splits
        return (data.rename_axis(index="class", columns="split").stack().rename("count").reset_index()
                [["split", "class", "count"]])
    if isinstance(data, Mapping) and data:
        first = next(iter(data.values()))
        if isinstance(first, Mapping):
            rows = [(split, name, int(n)) for split, counts in data.items() for name, n in counts.items()]
        else:
            rows = [("all", name, int(n)) for name, n in data.items()]
        return pd.DataFrame(rows, columns=["split", "class", "count"])
    raise TypeError("plot_class_distribution takes a Dataset, {split: {class: count}}, {class: count} "
                    f"or a DataFrame, got {type(data).__name__}")


def plot_class_distribution(data, normalize: bool = False, title: str | None = None) -> Figure:
    """Bar chart of faces per class, one colour per split.

    Args:
        data: a :class:`~fer.data.Dataset`, ``{split: {class: count}}``, ``{class: count}`` or a
            DataFrame (long ``split, class, count`` or wide classes × splits).
        normalize: plot each split's percentage instead of counts (compares splits of different size).
        title: figure title.

    Returns:
        A figure with one axes.
    """
    frame = _counts_frame(data)
    value = "count"
    if normalize:
        totals = frame.groupby("split")["count"].transform("sum").replace(0, 1)
        frame = frame.assign(percent=100.0 * frame["count"] / totals)
        value = "percent"
    order = [s for s in SPLITS if s in set(frame["split"])] + sorted(set(frame["split"]) - set(SPLITS))
    classes = list(dict.fromkeys(frame["class"]))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(classes)), 4))
    sns.barplot(frame, x="class", y=value, hue="split", hue_order=order, order=classes, ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.1f" if normalize else "%d", fontsize=7, padding=1)
    ax.set_xlabel("")
    ax.set_ylabel("% of split" if normalize else "faces")
    if len(order) == 1 and order[0] == "all" and ax.get_legend() is not None:
        ax.get_legend().remove()
    ax.set_title(title or "Class distribution")
    fig.tight_layout()
    return fig


def show_face(ax, face: np.ndarray) -> None:
    """Draw one face (gray or RGB, any size) on ``ax`` without ticks."""
    face = np.asarray(face)
    if face.ndim == 3 and face.shape[-1] == 1:
        face = face[..., 0]
    if face.ndim == 2:
        ax.imshow(face, cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(np.clip(face, 0, 255).astype(np.uint8))
    ax.set_xticks([])
    ax.set_yticks([])


def plot_samples(ds: Dataset, per_class: int = 5, split: str | None = None, seed: int = 0,
                 title: str | None = None) -> Figure:
    """A grid of random faces: one row per class, ``per_class`` columns.

    Args:
        ds: the dataset.
        per_class: faces per row; rows of classes with fewer faces are left partly empty.
        split: draw from this split only (``None`` = all rows).
        seed: random seed of the draw.
        title: figure title.

    Returns:
        A figure with ``num_classes * per_class`` axes; each row is labelled ``class (n=count)``.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    if split is not None:
        ds = ds.subset(split)
    rng = np.random.default_rng(seed)
    k = ds.num_classes
    fig, axes = plt.subplots(k, per_class, figsize=(1.2 * per_class + 1, 1.25 * k), squeeze=False)
    for c, name in enumerate(ds.classes):
        rows = np.flatnonzero(ds.labels == c)
        pick = rng.choice(rows, size=min(per_class, len(rows)), replace=False) if len(rows) else []
        for j in range(per_class):
            ax = axes[c, j]
            if j < len(pick):
                show_face(ax, ds.images[pick[j]])
            else:
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
        axes[c, 0].set_ylabel(f"{name}\n(n={len(rows)})", rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title or f"Samples{f' ({split})' if split else ''}")
    fig.tight_layout()
    return fig
