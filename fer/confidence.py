"""95% confidence intervals for classification metrics: Wilson for accuracy, bootstrap for the rest.

One PublicTest evaluation (3,589 faces) has a standard error of about 0.8 accuracy points, so two models
whose intervals overlap widely are not shown to differ. The intervals are computed from a metrics dict's
confusion matrix alone (it holds every (true, predicted) pair), so a committed ``metrics_val.json`` gets
its intervals without the model or the data::

    from fer.confidence import metric_intervals
    ci = metric_intervals(json.load(open("results/architectures/fer_resnet/metrics_val.json")))
    ci["accuracy"]        # {"value": 0.61, "low": 0.594, "high": 0.626, "method": "wilson"}
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

#: z of a two-sided 95% normal interval
Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (better than the normal one near 0 and 1).

    Args:
        successes: number of correct predictions.
        n: number of trials (> 0).
        z: normal quantile (1.96 for 95%).

    Returns:
        ``(low, high)``, both in ``[0, 1]``.

    Example:
        >>> [round(v, 4) for v in wilson_interval(50, 100)]
        [0.4038, 0.5962]
    """
    if n <= 0:
        raise ValueError(f"wilson_interval needs n > 0 trials, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must be between 0 and n={n}")
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def pairs_from_confusion(cm) -> tuple[np.ndarray, np.ndarray]:
    """The ``(y_true, y_pred)`` arrays a confusion matrix (rows = true class) counts, in row order."""
    cm = np.asarray(cm, dtype=int)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or (cm < 0).any():
        raise ValueError(f"a confusion matrix must be a square array of non-negative counts, got shape {cm.shape}")
    k = cm.shape[0]
    true = np.repeat(np.repeat(np.arange(k), k), cm.ravel())
    pred = np.repeat(np.tile(np.arange(k), k), cm.ravel())
    return true, pred


def _scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, per-class precision/recall/F1 and macro-F1 of a batch of confusion matrices ``B x K x K``.

    Macro-F1 averages the classes with support in each matrix (as :func:`fer.evaluate.compute_metrics`)."""
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(float)
    support = cm.sum(axis=2).astype(float)
    predicted = cm.sum(axis=1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = support > 0
    macro = (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    accuracy = tp.sum(axis=1) / cm.sum(axis=(1, 2))
    return {"accuracy": accuracy, "macro_f1": macro, "precision": precision, "recall": recall, "f1": f1}


def bootstrap_confusions(cm, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """``n_boot`` confusion matrices of faces resampled with replacement from the pairs ``cm`` counts.

    Resampling N faces from the N (true, predicted) pairs is a multinomial draw over the K x K cells with
    probabilities ``cm / N``, which is what this does (fast for any N).
    """
    cm = np.asarray(cm, dtype=int)
    pairs_from_confusion(cm)  # validates the shape and the counts
    n = int(cm.sum())
    if n == 0:
        raise ValueError("an empty confusion matrix (0 faces) has no confidence interval")
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, cm.ravel() / n, size=n_boot)
    return draws.reshape(n_boot, *cm.shape)


def metric_intervals(metrics: Mapping, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """95% intervals for the accuracy, macro-F1 and per-class precision / recall / F1 of a metrics dict.

    Args:
        metrics: a dict from :func:`fer.evaluate.evaluate` (needs ``confusion_matrix`` and ``classes``).
        n_boot: bootstrap resamples (percentile intervals) for everything but accuracy.
        seed: seed of the resampling, so the intervals are reproducible.
        level: coverage of the intervals.

    Returns:
        ``{"accuracy": {value, low, high, method}, "macro_f1": {...}, "per_class": {name: {"precision":
        {...}, "recall": {...}, "f1": {...}}}, "n": faces, "n_boot": n_boot, "level": level}``.
    """
    cm = np.asarray(metrics["confusion_matrix"], dtype=int)
    classes = list(metrics["classes"])
    if cm.shape != (len(classes), len(classes)):
        raise ValueError(f"confusion_matrix has shape {cm.shape} but there are {len(classes)} classes")
    n = int(cm.sum())
    point = {k: v[0] for k, v in _scores(cm[None]).items()}
    boots = _scores(bootstrap_confusions(cm, n_boot, seed))
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2

    def interval(name: str, index: int | None = None) -> dict:
        value = point[name] if index is None else point[name][index]
        sample = boots[name] if index is None else boots[name][:, index]
        low, high = np.quantile(sample, [lo_q, hi_q])
        return {"value": float(value), "low": float(low), "high": float(high), "method": "bootstrap"}

    z = Z95 if level == 0.95 else _normal_quantile(hi_q)
    low, high = wilson_interval(int(np.trace(cm)), n, z)
    return {
        "accuracy": {"value": float(point["accuracy"]), "low": low, "high": high, "method": "wilson"},
        "macro_f1": interval("macro_f1"),
        "per_class": {c: {m: interval(m, i) for m in ("precision", "recall", "f1")} for i, c in enumerate(classes)},
        "n": n, "n_boot": int(n_boot), "level": level,
    }


def _normal_quantile(q: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(q)
