"""Figures that compare architectures across a study: scores with intervals, cost trade-offs, curves, per-class F1.

Each function takes a table (a ``pandas.DataFrame`` or a list of dicts, one row per model, as
:func:`fer.studies.architectures.summary_table` returns) and returns a ``matplotlib`` ``Figure``;
:func:`fer.plots.save_figure` writes it. Nothing is trained or read from disk here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from fer.labels import EMOTIONS


def _frame(rows, needed: Sequence[str]) -> pd.DataFrame:
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    missing = [c for c in needed if c not in frame]
    if frame.empty or missing:
        raise ValueError(f"need rows with columns {list(needed)}; missing {missing}, got {list(frame.columns)}")
    return frame


def pareto_front(cost: Sequence[float], score: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats on both axes (lower cost and higher score), by cost.

    Example:
        >>> pareto_front([1, 2, 3, 4], [0.5, 0.4, 0.7, 0.6])
        [0, 2]
    """
    cost, score = np.asarray(cost, float), np.asarray(score, float)
    front, best = [], -np.inf
    for i in sorted(range(len(cost)), key=lambda i: (cost[i], -score[i])):
        if score[i] > best:
            front.append(i)
            best = score[i]
    return front


def plot_scores(table, title: str | None = None) -> Figure:
    """Accuracy and macro-F1 of every model as horizontal bars with their 95% intervals, best first.

    Args:
        table: rows with ``name``, ``accuracy``, ``macro_f1`` and ``<metric>_low`` / ``<metric>_high``.
        title: figure title.

    Returns:
        A figure with one axes: two bar groups (accuracy, macro-F1), each with error bars.
    """
    frame = _frame(table, ["name", "accuracy", "accuracy_low", "accuracy_high", "macro_f1", "macro_f1_low",
                           "macro_f1_high"]).sort_values("accuracy")
    y = np.arange(len(frame))
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(frame) + 1.8))
    for offset, metric in ((0.2, "accuracy"), (-0.2, "macro_f1")):
        value = frame[metric].to_numpy(float)
        low, high = frame[f"{metric}_low"].to_numpy(float), frame[f"{metric}_high"].to_numpy(float)
        err = np.vstack([value - low, high - value])
        ax.barh(y + offset, value, height=0.4, xerr=err, capsize=3, label=metric.replace("_", "-"))
        for yi, v, hi in zip(y + offset, value, high):
            ax.text(hi + 0.01, yi, f"{v:.3f}", va="center", fontsize=7)  # right of the error bar
    ax.set_yticks(y, frame["name"])
    ax.set_xlim(0, min(1.0, float(frame[["accuracy_high", "macro_f1_high"]].to_numpy().max()) + 0.12))
    ax.set_xlabel("score on the evaluation split (95% interval)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title(title or "accuracy and macro-F1")
    fig.tight_layout()
    return fig


def plot_accuracy_against(table, x: str, xlabel: str | None = None, log: bool = True, pareto: bool = False,
                          title: str | None = None) -> Figure:
    """Accuracy (with its interval) against a cost column, e.g. ``params``, ``latency_batch1_ms``, ``train_hours``.

    Args:
        table: rows with ``name``, ``accuracy`` and ``x`` (``accuracy_low`` / ``_high`` draw error bars).
        x: the cost column; lower is better.
        xlabel: its axis label (default the column name).
        log: logarithmic x axis.
        pareto: mark the Pareto front (no other model is both cheaper and more accurate) as a line.
        title: figure title.

    Returns:
        A figure with one axes: one point per model, labelled, plus the ``"Pareto front"`` line when asked.
    """
    frame = _frame(table, ["name", "accuracy", x])
    frame = frame[frame[x].notna()].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    cost, acc = frame[x].to_numpy(float), frame["accuracy"].to_numpy(float)
    if {"accuracy_low", "accuracy_high"} <= set(frame):
        err = np.vstack([acc - frame["accuracy_low"].to_numpy(float), frame["accuracy_high"].to_numpy(float) - acc])
        ax.errorbar(cost, acc, yerr=err, fmt="o", capsize=3, label="models")
    else:
        ax.plot(cost, acc, "o", label="models")
    for c, a, name in zip(cost, acc, frame["name"]):
        ax.annotate(str(name), (c, a), fontsize=7, xytext=(4, 4), textcoords="offset points")
    if pareto and len(frame):
        front = pareto_front(cost, acc)
        ax.plot(cost[front], acc[front], "--", color="tab:red", label="Pareto front")
        ax.legend(loc="lower right", fontsize=8)
    if log:
        ax.set_xscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")  # 3, 10, 4e+06 instead of 3x10^0
        ax.xaxis.set_major_formatter(plain)
        few = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:e}"[0] in "25" else "")  # 2, 5, 20, 50: no crowding
        span = np.ptp(np.log10(cost)) if len(cost) else 0.0
        ax.xaxis.set_minor_formatter(plain if span < 0.5 else few if span < 1.5 else NullFormatter())
    ax.margins(x=0.2, y=0.15)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3)
    ax.set_title(title or f"accuracy vs {xlabel or x}")
    fig.tight_layout()
    return fig


def plot_validation_curves(histories: Mapping[str, Mapping | pd.DataFrame], metric: str = "val_accuracy",
                           title: str | None = None) -> Figure:
    """One line per model: ``metric`` (default validation accuracy) after each epoch.

    Args:
        histories: model name → its history (``history.json`` as a dict of lists, or a DataFrame).
        metric: the history column to draw.
        title: figure title.

    Returns:
        A figure with one axes and one line per model that has ``metric``, labelled with the model name.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = 0
    for name, history in histories.items():
        values = history[metric] if metric in history else None
        if values is None:
            continue
        values = np.asarray(values, float)
        ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=str(name))
        drawn += 1
    if not drawn:
        raise ValueError(f"no history has a {metric!r} column; was the study trained with a validation split?")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title or f"{metric.replace('_', ' ')} per epoch")
    fig.tight_layout()
    return fig


def plot_f1_heatmap(per_class: Mapping[str, Mapping[str, float]], classes: Sequence[str] | None = None,
                    title: str | None = None) -> Figure:
    """Per-class F1 of every model as a heatmap (rows = models, best macro-F1 on top; columns = classes).

    Args:
        per_class: model name → {class name: F1}.
        classes: column order; default :data:`fer.labels.EMOTIONS` followed by any other class, in order seen.
        title: figure title.

    Returns:
        A figure whose first axes holds the image (``ax.images[0]``, an ``models x classes`` array).
    """
    if not per_class:
        raise ValueError("plot_f1_heatmap needs at least one model")
    seen = list(dict.fromkeys(c for row in per_class.values() for c in row))
    cols = list(classes) if classes is not None else [c for c in EMOTIONS if c in seen] + [
        c for c in seen if c not in EMOTIONS]
    names = sorted(per_class, key=lambda n: -np.mean([per_class[n].get(c, 0.0) for c in cols]))
    grid = np.array([[per_class[n].get(c, np.nan) for c in cols] for n in names], dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 * len(cols) + 3, 0.45 * len(names) + 1.8))
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.5 else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    fig.colorbar(im, ax=ax, label="F1")
    ax.set_title(title or "per-class F1")
    fig.tight_layout()
    return fig
