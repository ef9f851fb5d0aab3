"""Figures of training runs and their scores: learning curves, confusion matrix, per-class F1 and a
comparison of runs."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt  # pyplot-managed figures, so notebooks show them inline
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from fer.labels import EMOTIONS


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
