"""Predict, score and record: class probabilities (with optional test-time augmentation) and metrics.

Typical use::

    from fer.evaluate import evaluate, load_model, write_metrics
    model = load_model("models/fer_resnet.keras")
    metrics = evaluate(model, dataset, split="val", tta=True)
    write_metrics(metrics, "results/fer_resnet_val.json")

Test-time augmentation (``tta``) averages the softmax probabilities of several views of each
face (``"flip"``, ``"crops"``, ``"flip_crops"`` = ``tta=True``, ``"ten_crop"``); :mod:`fer.tta`
defines the views. The model runs through :func:`fer.inference.runtimes.compiled_predict`, the
same compiled function :class:`fer.inference.Classifier` uses.

Metrics follow scikit-learn's definitions. Macro averages are taken over the
classes that occur in the evaluated labels (``support > 0``); a class absent
from the data (e.g. *disgust* in a CK+ split) is still reported per class, with
support 0 and precision/recall/F1 of 0, but does not drag the macro average.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from fer.data.dataset import Dataset
from fer.files import json_default, write_text
from fer.inference.runtimes import compiled_predict, load_keras_model
from fer.labels import EMOTIONS
from fer.preprocess import fit_to_model, model_input_shape
from fer.provenance import command_line
from fer.tta import TTA_MODES, predict_views, tta_mode, tta_views

__all__ = ["TTA_MODES", "compute_metrics", "evaluate", "load_model", "predict_proba", "tta_views",
           "write_metrics"]

#: :func:`fer.inference.runtimes.load_keras_model`, under the name evaluation code has always used.
load_model = load_keras_model


# --------------------------------------------------------------------------- prediction


def predict_proba(model: keras.Model, images: np.ndarray, batch_size: int = 256,
                  tta: str | bool | None = False) -> np.ndarray:
    """Class probabilities for faces of any size and channel count.

    Each batch is fitted to the model (:func:`fer.preprocess.fit_to_model`: resize and gray ↔ RGB;
    pixels stay in ``[0, 255]`` because the models rescale inside) and run through one compiled
    ``model(x, training=False)``.

    Args:
        model: a ``keras.Model`` with one image input and a softmax output.
        images: ``N x H x W x C`` (or ``N x H x W``) ``uint8`` faces.
        batch_size: faces per forward pass.
        tta: test-time augmentation, see :func:`tta_views` (``True`` = ``"flip_crops"``).

    Returns:
        ``float32`` array ``N x num_classes``; with TTA the mean over views.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    tta = tta_mode(tta)
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be N x H x W x C or N x H x W, got shape {images.shape}")
    shape, n_out = model_input_shape(model), model.output_shape[-1]
    fn = compiled_predict(model)
    out = [predict_views(fn, fit_to_model(images[start:start + batch_size], shape), tta, batch_size=batch_size,
                         num_outputs=n_out) for start in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, n_out), dtype=np.float32)


# --------------------------------------------------------------------------- metrics


def compute_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str] = EMOTIONS,
                    split: str | None = None) -> dict:
    """Accuracy, macro/weighted precision-recall-F1, per-class report and confusion matrices.

    Args:
        y_true: ``N`` integer labels (indices into ``classes``).
        y_pred: ``N`` predicted indices, or ``N x K`` probabilities (argmax is taken).
        classes: class names in label order.
        split: name of the evaluated split, recorded in the result.

    Returns:
        A JSON-ready dict: ``split``, ``num_samples``, ``classes``, ``accuracy``,
        ``macro_precision/recall/f1`` (over classes with support > 0, listed in ``macro_classes``),
        ``weighted_precision/recall/f1``, ``per_class`` (``{name: {precision, recall, f1, support}}``),
        ``confusion_matrix`` (counts, rows = true class, columns = predicted) and
        ``confusion_matrix_normalized`` (each row divided by its support; all-zero rows stay zero).
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    classes = tuple(classes)
    k = len(classes)
    y_true = np.asarray(y_true).astype(int).ravel()
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        if y_pred.shape[1] != k:
            raise ValueError(f"predictions have {y_pred.shape[1]} columns but there are {k} classes {classes}; "
                             "evaluate with the classes the model was trained on")
        y_pred = y_pred.argmax(axis=1)
    y_pred = y_pred.astype(int).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} labels but {len(y_pred)} predictions")
    if len(y_true) == 0:
        raise ValueError("nothing to evaluate: 0 samples")
    for name, arr in (("labels", y_true), ("predictions", y_pred)):
        if arr.min() < 0 or arr.max() >= k:
            raise ValueError(f"{name} must be class indices in [0, {k}), got range [{arr.min()}, {arr.max()}]")

    idx = list(range(k))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=idx, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=idx)
    rows = cm.sum(axis=1, keepdims=True)
    cm_norm = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    present = s > 0
    weights = s / s.sum()
    return {
        "split": split,
        "num_samples": int(len(y_true)),
        "classes": list(classes),
        "accuracy": float((y_true == y_pred).mean()),
        "macro_precision": float(p[present].mean()),
        "macro_recall": float(r[present].mean()),
        "macro_f1": float(f[present].mean()),
        "macro_classes": [c for c, keep in zip(classes, present) if keep],
        "weighted_precision": float((p * weights).sum()),
        "weighted_recall": float((r * weights).sum()),
        "weighted_f1": float((f * weights).sum()),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(classes)
        },
        "confusion_matrix": cm.astype(int).tolist(),
        "confusion_matrix_normalized": cm_norm.tolist(),
    }


def evaluate(model: keras.Model, ds_or_images: Dataset | np.ndarray, labels: np.ndarray | None = None,
             split: str = "val", classes: Sequence[str] | None = None, tta: str | bool | None = False,
             batch_size: int = 256) -> dict:
    """Score ``model`` on one split of a :class:`~fer.data.Dataset` (or on arrays).

    Args:
        model: a ``keras.Model`` returning class probabilities.
        ds_or_images: a ``Dataset`` (``split`` is selected from it) or ``N x H x W x C`` images.
        labels: ``N`` integer labels; required with an image array, must be ``None`` with a Dataset.
        split: the Dataset split to evaluate; with arrays it is only recorded as a name.
        classes: class names; default the Dataset's ``classes``, or :data:`fer.labels.EMOTIONS` for arrays.
        tta: test-time augmentation (see :func:`predict_proba`).
        batch_size: faces per forward pass.

    Returns:
        The :func:`compute_metrics` dict plus ``tta`` and, for a Dataset, ``dataset`` (its ``meta``
        name) and ``sources`` (faces per source in the split).

    Raises:
        ValueError: when the split is missing from the Dataset (naming the present splits), when
            labels are missing/extra, or the model's output size differs from the number of classes,
            or the class names stored in the model (:mod:`fer.class_names`) differ from ``classes``.

    Example:
        >>> from fer.data.sources import load_dataset
        >>> from fer.evaluate import evaluate, load_model
        >>> m = evaluate(load_model("models/fer2013_default.keras"), load_dataset("fer2013.csv.gz"), split="val",
        ...              tta="flip")  # doctest: +SKIP
        >>> m["accuracy"], m["macro_f1"], m["per_class"]["disgust"]["recall"]  # doctest: +SKIP
    """
    from fer.landmarks.data import evaluate_landmark_model, is_landmark_model

    if is_landmark_model(model) and isinstance(ds_or_images, Dataset) and labels is None:
        return evaluate_landmark_model(model, ds_or_images, split, classes, tta, batch_size)  # FaceMesh landmarks
    extra: dict = {}
    if isinstance(ds_or_images, Dataset):
        if labels is not None:
            raise ValueError("labels must be None when evaluating a Dataset (its labels are used)")
        if classes is not None and tuple(classes) != ds_or_images.classes:
            raise ValueError(f"classes {tuple(classes)} differ from the Dataset's classes {ds_or_images.classes}")
        sub = ds_or_images.subset(split)
        images, labels, classes = sub.images, sub.labels, sub.classes
        extra["dataset"] = ds_or_images.meta.get("name")
        names, counts = np.unique(sub.source.astype(str), return_counts=True)
        extra["sources"] = {str(n): int(c) for n, c in zip(names, counts)}
    else:
        if labels is None:
            raise ValueError("labels are required when evaluating an image array; "
                             "pass labels=... or a fer.data.Dataset")
        images = np.asarray(ds_or_images)
        classes = EMOTIONS if classes is None else tuple(classes)
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
    n_out = model.output_shape[-1]
    if n_out != len(classes):
        raise ValueError(f"model {model.name!r} outputs {n_out} classes but the data has {len(classes)} "
                         f"{tuple(classes)}")
    stored = _stored_classes(model)
    if stored and tuple(stored) != tuple(classes):
        raise ValueError(f"model {model.name!r} was trained on classes {tuple(stored)} but the data's classes are "
                         f"{tuple(classes)}; map the labels to the model's order (or pass the right dataset)")
    proba = predict_proba(model, images, batch_size=batch_size, tta=tta)
    metrics = compute_metrics(labels, proba, classes, split=split)
    metrics["tta"] = tta_mode(tta)
    metrics["model"] = model.name
    metrics.update(extra)
    return metrics


def _stored_classes(model: keras.Model) -> tuple[str, ...] | None:
    """Class names saved in the model by :func:`fer.class_names.attach_class_names`, if any."""
    try:
        from fer.class_names import output_layer
    except ImportError:
        return None
    try:
        names = getattr(output_layer(model), "classes", None)
    except ValueError:
        return None
    return tuple(names) if names else None


# --------------------------------------------------------------------------- writing


def _versions() -> dict[str, str]:
    from fer.environment import versions

    backend = ("tensorflow",) if keras.backend.backend() == "tensorflow" else ()
    return versions("python", "fer", "keras", "numpy", "scikit-learn", "opencv", *backend)


def _finite(obj):
    """``obj`` with NaN/inf floats replaced by ``None`` (strict JSON has no NaN)."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def write_metrics(metrics: dict, path: str | os.PathLike) -> Path:
    """Write ``metrics`` as JSON atomically (temporary file in the same folder, then rename).

    Adds, unless already present: ``command`` (the shell command line, from ``sys.argv``),
    ``date`` (UTC, ISO 8601) and ``versions`` (python, fer, keras, tensorflow, numpy, ...).
    NaN/inf values are written as ``null``.

    Returns:
        The written path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = dict(metrics)
    record.setdefault("command", command_line())
    record.setdefault("date", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    record.setdefault("versions", _versions())
    write_text(json.dumps(_finite(record), indent=2, default=json_default, allow_nan=False) + "\n", path)
    return path
