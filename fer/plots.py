"""Figures for datasets, training runs, metrics and model explanations.

Every ``plot_*`` function takes data (a :class:`~fer.data.Dataset`, a metrics dict from
:func:`fer.evaluate.evaluate`, a history, a model) and returns a ``matplotlib`` ``Figure``;
nothing is written as a side effect. Scripts call :func:`save_figure`, which writes the PNG
atomically (and closes the figure under a non-interactive backend).

Figures are created through ``pyplot``, so a notebook cell shows every figure it creates (the
inline backend displays them at the end of the cell). Write ``fig = plot_history(...)`` or end
the line with ``;``: a figure that is also the cell's last value would be shown twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import matplotlib
import matplotlib.pyplot as plt  # pyplot-managed figures, so notebooks show them inline
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from fer.data.dataset import SPLITS, Dataset
from fer.files import save_figure_png
from fer.labels import EMOTIONS
from fer.preprocess import LUMA

_NON_INTERACTIVE = ("agg", "pdf", "ps", "svg", "pgf", "cairo", "template")


# --------------------------------------------------------------------------- saving


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120, close: bool | None = None) -> Path:
    """Write ``fig`` as a PNG atomically (temporary file in the same folder, then rename).

    Args:
        fig: the figure.
        path: the ``.png`` file; parent folders are created.
        dpi: resolution.
        close: close the figure afterwards (frees its memory). ``None`` closes it only under a
            non-interactive backend (scripts, CI), so a notebook can still display it.

    Returns:
        The written path.
    """
    path = save_figure_png(fig, path, dpi=dpi)
    if close is None:
        close = matplotlib.get_backend().lower() in _NON_INTERACTIVE
    if close:
        plt.close(fig)
    return path


# --------------------------------------------------------------------------- data


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


def _show_face(ax, face: np.ndarray) -> None:
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
                _show_face(ax, ds.images[pick[j]])
            else:
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
        axes[c, 0].set_ylabel(f"{name}\n(n={len(rows)})", rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title or f"Samples{f' ({split})' if split else ''}")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- training


def _history_frame(history) -> pd.DataFrame:
    if hasattr(history, "history") and isinstance(history.history, Mapping):  # keras.callbacks.History
        history = history.history
    if isinstance(history, (str, os.PathLike)):
        path = Path(history)
        if not path.is_file():
            raise FileNotFoundError(f"history file {str(path)!r} not found (expected a run's history.csv/json)")
        if path.suffix == ".json":
            import json

            history = json.loads(path.read_text())
        else:
            frame = pd.read_csv(path)
            if "epoch" in frame:  # CSVLogger after a resume can repeat epochs: keep the last
                frame = frame.drop_duplicates("epoch", keep="last").sort_values("epoch")
            return frame.reset_index(drop=True)
    if isinstance(history, pd.DataFrame):
        return history.reset_index(drop=True)
    if isinstance(history, Mapping):
        series = {k: list(v) for k, v in history.items() if isinstance(v, (list, tuple, np.ndarray))}
        if not series:
            raise ValueError("history has no per-epoch lists (expected e.g. {'loss': [...], 'val_loss': [...]})")
        n = max(len(v) for v in series.values())
        return pd.DataFrame({k: v + [np.nan] * (n - len(v)) for k, v in series.items()})
    raise TypeError(f"plot_history takes a dict, keras History, DataFrame or a history.csv/json path, "
                    f"got {type(history).__name__}")


def _accuracy_key(columns) -> str | None:
    for key in ("accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy"):
        if key in columns:
            return key
    return None


def plot_history(history, title: str | None = None) -> Figure:
    """Training curves: accuracy and loss, train vs validation, (and the learning rate when logged).

    Args:
        history: ``History.history`` dict, a ``keras.callbacks.History``, a DataFrame, or the path
            of a run's ``history.csv`` (``CSVLogger``) / ``history.json``.
        title: figure title.

    Returns:
        A figure with one axes per panel found: accuracy, loss, learning rate (each only if
        logged). The epoch of the best validation accuracy is marked with a dashed line.
    """
    frame = _history_frame(history)
    epochs = frame["epoch"].to_numpy() + 1 if "epoch" in frame else np.arange(1, len(frame) + 1)
    panels = []
    acc = _accuracy_key(frame.columns)
    if acc:
        panels.append(("accuracy", acc))
    if "loss" in frame:
        panels.append(("loss", "loss"))
    lr = next((k for k in ("learning_rate", "lr") if k in frame), None)
    if lr:
        panels.append(("learning rate", lr))
    if not panels:
        raise ValueError(f"history has no accuracy or loss column; columns are {list(frame.columns)}")
    best = None
    if acc and f"val_{acc}" in frame and frame[f"val_{acc}"].notna().any():
        best = epochs[int(np.nanargmax(frame[f"val_{acc}"].to_numpy()))]

    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, (label, key) in zip(axes[0], panels):
        ax.plot(epochs, frame[key], marker=".", label="train" if key != lr else None)
        if f"val_{key}" in frame:
            ax.plot(epochs, frame[f"val_{key}"], marker=".", label="val")
        if key == lr:
            ax.set_yscale("log")
        else:
            ax.legend()
        if best is not None:
            ax.axvline(best, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(label)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if best is not None:
        best_val = float(np.nanmax(frame[f"val_{acc}"]))
        axes[0][0].set_title(f"accuracy (best val {best_val:.3f} @ {best})")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- metrics


def plot_confusion_matrix(metrics_or_cm, classes: Sequence[str] | None = None, normalize: bool = True,
                          title: str | None = None) -> Figure:
    """Confusion-matrix heatmap (rows = true class, columns = predicted).

    Args:
        metrics_or_cm: a metrics dict from :func:`fer.evaluate.evaluate` or a ``K x K`` count matrix.
        classes: class names (default: the metrics' ``classes``, or :data:`~fer.labels.EMOTIONS` for 7 classes).
        normalize: colour by the row-normalised rate (recall on the diagonal) and annotate
            ``rate`` over ``(count)``; ``False`` colours and annotates counts.
        title: axes title (default: split and accuracy when known).

    Returns:
        A figure with two axes: the heatmap and its colour bar.
    """
    metrics = metrics_or_cm if isinstance(metrics_or_cm, Mapping) else None
    cm = np.asarray(metrics["confusion_matrix"] if metrics else metrics_or_cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square K x K, got shape {cm.shape}")
    if classes is None:
        if metrics and "classes" in metrics:
            classes = metrics["classes"]
        else:
            classes = EMOTIONS if len(cm) == len(EMOTIONS) else [str(i) for i in range(len(cm))]
    if len(classes) != len(cm):
        raise ValueError(f"{len(classes)} class names for a {len(cm)}x{len(cm)} confusion matrix")
    rows = cm.sum(axis=1, keepdims=True)
    rate = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    if normalize:
        values, vmax = rate, 1.0
        annot = np.array([[f"{r:.2f}\n({int(c)})" for r, c in zip(rr, cr)] for rr, cr in zip(rate, cm)])
    else:
        values, vmax = cm, None
        annot = cm.astype(int).astype(str)
    size = max(5.0, 0.85 * len(cm) + 1.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    sns.heatmap(values, annot=annot, fmt="", cmap="Blues", vmin=0, vmax=vmax, square=True,
                xticklabels=classes, yticklabels=classes, annot_kws={"fontsize": 8}, ax=ax,
                cbar_kws={"label": "rate (row-normalised)" if normalize else "count"})
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title is None:
        parts = ["Confusion matrix"]
        if metrics and metrics.get("split"):
            parts.append(str(metrics["split"]))
        if metrics and "accuracy" in metrics:
            parts.append(f"acc {metrics['accuracy']:.3f}")
        title = " · ".join(parts)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_per_class_f1(metrics: Mapping, title: str | None = None) -> Figure:
    """Per-class F1 bars, from one metrics dict or ``{run name: metrics}`` (grouped bars).

    Classes with no support are shown as ``n/a`` without a bar. For a single run each tick names
    the class and its support, and a dashed line marks the macro F1.

    Returns:
        A figure with one axes.
    """
    runs = {"": metrics} if "per_class" in metrics else dict(metrics)
    if not runs or not all(isinstance(m, Mapping) and "per_class" in m for m in runs.values()):
        raise ValueError("plot_per_class_f1 takes a metrics dict from fer.evaluate.evaluate "
                         "(with 'per_class') or a {name: metrics} mapping of them")
    rows = []
    for run, m in runs.items():
        for name, stats in m["per_class"].items():
            rows.append((run, name, stats["f1"] if stats["support"] > 0 else np.nan, stats["support"]))
    frame = pd.DataFrame(rows, columns=["run", "class", "f1", "support"])
    classes = list(dict.fromkeys(frame["class"]))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 * len(classes) * max(1, len(runs) / 2)), 4))
    single = len(runs) == 1
    sns.barplot(frame, x="class", y="f1", hue=None if single else "run", order=classes, ax=ax,
                color=None if not single else sns.color_palette()[0])
    for container in ax.containers:
        ax.bar_label(container, fmt="%.2f", fontsize=7, padding=1)
    if single:
        m = next(iter(runs.values()))
        support = frame.set_index("class")["support"]
        ax.set_xticks(range(len(classes)))
        ax.set_xticklabels([f"{c}\n(n={support[c]})" if support[c] else f"{c}\n(n/a)" for c in classes])
        if "macro_f1" in m:
            ax.axhline(m["macro_f1"], color="grey", linestyle="--", linewidth=0.8,
                       label=f"macro F1 {m['macro_f1']:.3f}")
            ax.legend(loc="upper right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("")
    ax.set_ylabel("F1")
    if title is None:
        split = next(iter(runs.values())).get("split")
        title = "Per-class F1" + (f" ({split})" if split else "")
    ax.set_title(title)
    fig.tight_layout()
    return fig


_COMPARISON_KEYS = {
    "name": ("name", "model", "run"),
    "accuracy": ("accuracy", "acc"),
    "macro_f1": ("macro_f1", "f1_macro"),
    "params": ("params", "num_params", "parameters"),
    "images_per_s": ("images_per_s", "throughput", "faces_per_s"),
}


def _comparison_frame(runs) -> pd.DataFrame:
    frame = runs.copy() if isinstance(runs, pd.DataFrame) else pd.DataFrame(list(runs))
    for target, keys in _COMPARISON_KEYS.items():
        for key in keys:  # rows may name the same field differently ("name" here, "model" there)
            if key in frame and key != target:
                frame[target] = frame[target].combine_first(frame[key]) if target in frame else frame[key]
    missing = [k for k in ("name", "accuracy") if k not in frame]
    if missing or frame.empty:
        raise ValueError(f"plot_comparison needs rows with at least 'name' and 'accuracy'; missing {missing}, "
                         f"columns are {list(frame.columns)}")
    return frame


def plot_comparison(runs, title: str | None = None) -> Figure:
    """Compare models: accuracy / macro-F1 bars, and accuracy against speed when measured.

    Args:
        runs: a DataFrame or a list of dicts with ``name`` (or ``model``), ``accuracy`` and optionally
            ``macro_f1``, ``params`` and ``images_per_s``.
        title: figure title.

    Returns:
        A figure with one axes (bars), or two when ``images_per_s`` is known for some run (the
        second plots accuracy against images/s on a log scale, marker area ∝ parameters).
    """
    frame = _comparison_frame(runs).sort_values("accuracy", ascending=False)
    scores = [c for c in ("accuracy", "macro_f1") if c in frame]
    speed = "images_per_s" in frame and frame["images_per_s"].notna().any()
    n = len(frame)
    fig, axes = plt.subplots(1, 2 if speed else 1, figsize=(11 if speed else 6, max(3.0, 0.45 * n + 1.5)),
                             squeeze=False)
    ax = axes[0][0]
    long = frame.melt(id_vars="name", value_vars=scores, var_name="metric", value_name="score")
    sns.barplot(long, y="name", x="score", hue="metric", orient="h", ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.3f", fontsize=7, padding=2)
    ax.set_xlim(0, min(1.0, float(np.nanmax(long["score"])) * 1.15 + 0.02))
    ax.set_ylabel("")
    ax.set_title("accuracy" + (" and macro F1" if "macro_f1" in scores else ""))
    if speed:
        ax2 = axes[0][1]
        sub = frame[frame["images_per_s"].notna()]
        if "params" in sub and sub["params"].notna().any():
            p = sub["params"].astype(float)
            sizes = 40 + 400 * p / max(float(p.max()), 1.0)
        else:
            sizes = 60
        ax2.scatter(sub["images_per_s"], sub["accuracy"], s=sizes, alpha=0.7)
        for _, row in sub.iterrows():
            label = str(row["name"])
            if "params" in sub and pd.notna(row.get("params")):
                label += f" ({row['params'] / 1e6:.1f}M)"
            ax2.annotate(label, (row["images_per_s"], row["accuracy"]), fontsize=7,
                         xytext=(4, 4), textcoords="offset points")
        ax2.set_xscale("log")
        ax2.margins(x=0.25, y=0.15)
        ax2.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax2.set_xlabel("images / s")
        ax2.set_ylabel("accuracy")
        ax2.set_title("accuracy vs speed (marker area ∝ parameters)")
        ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- explanations


def _overlay(ax, face: np.ndarray, heat: np.ndarray, alpha: float) -> None:
    """Face in gray with ``heat`` (same H x W, [0, 1]) on top in the jet colour map."""
    face = np.asarray(face, dtype=np.float32)
    if face.ndim == 3 and face.shape[-1] == 3:
        face = face @ LUMA
    _show_face(ax, face)
    ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0, vmax=1, interpolation="bilinear")


def _class_names(model, classes: Sequence[str] | None) -> list[str]:
    if classes is not None:
        return list(classes)
    from fer.class_names import class_names

    return list(class_names(model))  # stored in the model, else EMOTIONS for 7 outputs


def plot_grad_cam(model, images: np.ndarray, class_index: int | Sequence[int] | None = None,
                  layer_name: str | None = None, classes: Sequence[str] | None = None,
                  alpha: float = 0.45) -> Figure:
    """Faces (top row) and their Grad-CAM heatmaps overlaid (bottom row).

    Args:
        model: a functional model (see :func:`fer.explain.grad_cam`).
        images: ``N x H x W x C`` ``uint8`` faces, any size.
        class_index: the class explained; ``None`` = each face's predicted class.
        layer_name: the feature-map layer (default: the last one).
        classes: class names for the titles (default: the names stored in the model, see
            :mod:`fer.class_names`, else :data:`~fer.labels.EMOTIONS` for 7 outputs).
        alpha: opacity of the heatmap.

    Returns:
        A figure with ``2 * N`` axes; bottom titles name the explained class and its probability.
    """
    from fer.evaluate import predict_proba
    from fer.explain import grad_cam

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    heat = grad_cam(model, images, class_index=class_index, layer_name=layer_name)
    proba = predict_proba(model, images)
    names = _class_names(model, classes)
    if class_index is None:
        explained = proba.argmax(axis=1)
    else:
        explained = np.broadcast_to(np.asarray(class_index, dtype=int), (len(images),))
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(2.0 * n + 0.5, 4.4), squeeze=False)
    for i in range(n):
        _show_face(axes[0][i], images[i])
        axes[0][i].set_title(f"pred {names[int(proba[i].argmax())]}", fontsize=8)
        _overlay(axes[1][i], images[i], heat[i], alpha)
        c = int(explained[i])
        axes[1][i].set_title(f"{names[c]} p={proba[i, c]:.2f}", fontsize=8)
    fig.suptitle("Grad-CAM")
    fig.tight_layout()
    return fig


def plot_attention(model, images: np.ndarray, alpha: float = 0.5) -> Figure:
    """CBAM / SE attention of ``model`` on faces: spatial maps overlaid, channel maps as heat strips.

    Uses :func:`fer.layers.attention_maps` (every top-level ChannelAttention, SpatialAttention,
    CBAM and SqueezeExcitation layer). The faces are first fitted to the model
    (:func:`fer.preprocess.fit_to_model`).

    Layout: one row per face with the face and, for each spatial map (bilinearly upsampled to the
    face and stretched to its own min–max, which is printed under it), an overlay; then one heat
    strip per channel map (rows = faces, columns = channels, colour scale 0–1).

    Returns:
        A figure with ``N * (1 + S) + Ch`` axes for N faces, S spatial and Ch channel maps.
    """
    from fer.layers import attention_maps
    from fer.preprocess import fit_to_model

    x = fit_to_model(images, model.input_shape)
    maps = attention_maps(model, x, channel=True)
    spatial = {k: v[..., 0] for k, v in maps.items() if v.shape[1] * v.shape[2] > 1}
    channel = {k: v.reshape(len(v), -1) for k, v in maps.items() if v.shape[1] * v.shape[2] == 1}
    n, s, ch = len(x), len(spatial), len(channel)
    h, w = x.shape[1:3]
    faces = np.clip(np.rint(x), 0, 255).astype(np.uint8)

    cols = 1 + s
    fig = plt.figure(figsize=(1.9 * cols + 0.6, 1.9 * n + 1.3 * ch + 0.5))
    grid = fig.add_gridspec(n + ch, cols, height_ratios=[1.0] * n + [0.7] * ch)
    for i in range(n):
        ax = fig.add_subplot(grid[i, 0])
        _show_face(ax, faces[i])
        if i == 0:
            ax.set_title("face", fontsize=8)
        for j, (name, amap) in enumerate(spatial.items(), start=1):
            up = cv2.resize(amap[i].astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
            lo, hi = float(up.min()), float(up.max())
            ax = fig.add_subplot(grid[i, j])
            _overlay(ax, faces[i], (up - lo) / (hi - lo) if hi > lo else np.zeros_like(up), alpha)
            ax.set_xlabel(f"{lo:.2f}–{hi:.2f}", fontsize=6, labelpad=1)
            if i == 0:
                ax.set_title(f"{name}\n{amap.shape[1]}x{amap.shape[2]}", fontsize=7)
    for k, (name, cmap) in enumerate(channel.items()):
        ax = fig.add_subplot(grid[n + k, :])
        ax.imshow(cmap, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks(range(n))
        ax.set_yticklabels([f"face {i}" for i in range(n)], fontsize=6)
        ax.set_xlabel("channel", fontsize=7)
        ax.set_title(f"{name}: channel weights", fontsize=8)
    fig.suptitle("Attention maps")
    fig.tight_layout()
    return fig
