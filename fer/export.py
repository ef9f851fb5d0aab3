"""Export a trained ``.keras`` model for deployment: TFLite (float32, float16, dynamic-range or int8) and ONNX.

``python -m fer export MODEL --format tflite [--quantize float16|dynamic|int8 --calibration DATA]``

* The exported model has the same interface as the Keras model: ``float32`` pixels in ``[0, 255]``
  of shape ``N x H x W x C`` in, ``float32`` probabilities out (int8 models quantize inside and keep
  float input/output), with a dynamic batch dimension.
* The class names travel inside the file: TFLite stores a JSON document in the flatbuffer's
  ``metadata`` table under the name ``"fer_metadata"``; ONNX stores the same JSON in the model's
  ``metadata_props`` under the key ``"fer_metadata"``. The JSON is
  ``{"classes": [...], "input_shape": [H, W, C], "quantize": ..., "source": ..., "fer_version": ...}``.
  :func:`read_metadata` (from :mod:`fer.inference.runtimes`) reads it back (and, for files exported elsewhere, a sidecar
  ``<file>.json`` holding the same document). :func:`fer.inference.load_classifier` loads every format.
* int8 calibration needs representative faces: ``--calibration`` takes a ``fer2013.csv(.gz)``, an
  image-folder tree or ``synthetic`` (read by :func:`fer.data.sources.load_dataset`); 300 training
  faces are drawn by default.
* ONNX goes through ``tf2onnx`` (Keras' ``model.export(format="onnx")``), an optional dependency
  (``pip install tf2onnx onnxruntime``, the ``export`` extra); it works with TensorFlow 2.21.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import fer
from fer.class_names import class_names
from fer.data.atomic import atomic_path
from fer.inference.classifier import Classifier, load_classifier
from fer.inference.runtimes import METADATA_KEY, load_keras_model, metadata_name, read_metadata
from fer.preprocess import fit_to_model, model_input_shape

__all__ = ["FORMATS", "METADATA_KEY", "QUANTIZE", "calibration_images", "compare", "compare_on", "default_out",
           "export_onnx", "export_tflite", "read_metadata", "tflite_metadata_bytes"]

#: Accepted ``quantize`` values for TFLite.
QUANTIZE = (None, "float16", "dynamic", "int8")
FORMATS = ("tflite", "onnx")


# --------------------------------------------------------------------------- metadata


def tflite_metadata_bytes(tflite: bytes, metadata: dict) -> bytes:
    """Return ``tflite`` (a flatbuffer) with ``metadata`` stored as JSON under :data:`METADATA_KEY`."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    payload = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
    model.metadata = [m for m in (model.metadata or []) if metadata_name(m.name) != METADATA_KEY]
    buffer = schema.BufferT()
    buffer.data = payload
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _metadata(model, quantize: str | None, source: str) -> dict:
    return {
        "classes": list(class_names(model)),
        "input_shape": [d if d is None else int(d) for d in model_input_shape(model)],
        "quantize": quantize,
        "source": source,
        "model_name": model.name,
        "fer_version": fer.__version__,
    }


# --------------------------------------------------------------------------- calibration


def calibration_images(data, n: int = 300, seed: int = 0) -> np.ndarray:
    """Up to ``n`` representative faces for int8 calibration (training split preferred).

    Args:
        data: an ``N x H x W[ x C]`` array, a :class:`fer.data.Dataset`, or a path / ``"synthetic"``
            for :func:`fer.data.sources.load_dataset` (fer2013.csv(.gz), image-folder tree).
        n: how many faces to draw (without replacement, seeded).
    """
    if isinstance(data, (str, os.PathLike)):
        from fer.data.sources import load_dataset

        data = load_dataset(data)
    images = getattr(data, "images", data)
    if hasattr(data, "split") and "train" in set(np.asarray(data.split).tolist()):
        images = images[np.asarray(data.split) == "train"]
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"calibration data must be a non-empty batch of images, got shape {images.shape}")
    if len(images) > n:
        images = images[np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))]
    return images


def _representative(images: np.ndarray, input_shape) -> Iterator[list[np.ndarray]]:
    x = fit_to_model(images, input_shape)
    for i in range(len(x)):
        yield [x[i:i + 1]]


# --------------------------------------------------------------------------- exporters


def _load(model):
    if isinstance(model, (str, os.PathLike)):
        return load_keras_model(model), str(model)
    return model, model.name


def default_out(source: str, suffix: str, quantize: str | None) -> Path:
    """Where an export of ``source`` goes by default: next to it, ``<stem>[_<quantize>]<suffix>``."""
    base = Path(source)
    stem = base.name[: -len(base.suffix)] if base.suffix else base.name
    tag = f"_{quantize}" if quantize else ""
    return base.with_name(f"{stem}{tag}{suffix}")


def export_tflite(model, out_path: str | os.PathLike | None = None, quantize: str | None = None,
                  calibration=None, *, calibration_samples: int = 300, seed: int = 0) -> Path:
    """Convert a Keras model to a TFLite flatbuffer with its class names embedded.

    Args:
        model: a ``.keras`` path or a ``keras.Model``.
        out_path: the ``.tflite`` to write; default ``<model stem>[_<quantize>].tflite`` next to the model.
        quantize: ``None`` (float32), ``"float16"`` (float16 weights), ``"dynamic"`` (int8 weights,
            float activations) or ``"int8"`` (int8 weights and activations, float input/output;
            needs ``calibration``).
        calibration: faces for int8 calibration, see :func:`calibration_images`.
        calibration_samples: how many calibration faces to use.
        seed: seed of the calibration draw.

    Returns:
        The written path (written to a temporary name, then renamed).

    Raises:
        ValueError: unknown ``quantize``, ``int8`` without calibration data, or a bad ``out_path``.

    Example:
        >>> from fer.export import export_tflite, read_metadata
        >>> path = export_tflite("models/fer2013_default.keras", quantize="float16")  # doctest: +SKIP
        >>> read_metadata(path)["classes"][:2]  # doctest: +SKIP
        ['angry', 'disgust']
    """
    import tensorflow as tf

    if quantize not in QUANTIZE:
        raise ValueError(f"quantize={quantize!r} is not supported; use one of {QUANTIZE}")
    if quantize == "int8" and calibration is None:
        raise ValueError("int8 quantization needs calibration faces: pass calibration= (or --calibration DATA: "
                         "a fer2013.csv(.gz), an image-folder tree or 'synthetic')")
    keras_model, source = _load(model)
    out = Path(out_path) if out_path is not None else default_out(source, ".tflite", quantize)
    if out.suffix != ".tflite":
        raise ValueError(f"output {str(out)!r} must end with .tflite")
    options: dict = {}
    if quantize == "float16":
        options = {"optimizations": [tf.lite.Optimize.DEFAULT], "target_spec": {"supported_types": [tf.float16]}}
    elif quantize == "dynamic":
        options = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    elif quantize == "int8":
        images = calibration_images(calibration, calibration_samples, seed)
        shape = keras_model.input_shape
        options = {
            "optimizations": [tf.lite.Optimize.DEFAULT],
            "representative_dataset": lambda: _representative(images, shape),
            "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
        }
    with atomic_path(out) as tmp:
        keras_model.export(str(tmp), format="litert", verbose=False, **options)
        tmp.write_bytes(tflite_metadata_bytes(tmp.read_bytes(), _metadata(keras_model, quantize, Path(source).name)))
    return out


def export_onnx(model, out_path: str | os.PathLike | None = None, *, opset: int | None = None) -> Path:
    """Convert a Keras model to ONNX (via ``tf2onnx``) with its class names in ``metadata_props``.

    Raises:
        ImportError: when ``tf2onnx`` / ``onnx`` are not installed (with the pip command).
    """
    try:
        import onnx
        import tf2onnx  # noqa: F401
    except ImportError as err:
        raise ImportError(f"ONNX export needs tf2onnx and onnx ({err}); install them with "
                          "`pip install tf2onnx onnxruntime` (or `pip install -e .[export]`)") from err
    keras_model, source = _load(model)
    out = Path(out_path) if out_path is not None else default_out(source, ".onnx", None)
    if out.suffix != ".onnx":
        raise ValueError(f"output {str(out)!r} must end with .onnx")
    # Keras' ONNX exporter wants a model that has been called once (a freshly loaded one has not).
    keras_model(np.zeros((1, *model_input_shape(keras_model)), np.float32), training=False)
    with atomic_path(out) as tmp:
        keras_model.export(str(tmp), format="onnx", verbose=False, opset_version=opset)
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key = METADATA_KEY
        entry.value = json.dumps(_metadata(keras_model, None, Path(source).name))
        onnx.save(proto, str(tmp))
    return out


def compare(reference, exported, images: np.ndarray, labels: np.ndarray | None = None,
            label_classes=None) -> dict:
    """Compare two classifiers (paths or :class:`fer.inference.Classifier`) on the same faces.

    Args:
        reference, exported: e.g. the ``.keras`` model and its ``.tflite`` export.
        images: ``N x H x W[ x C]`` RGB/gray faces (dataset convention).
        labels: true class indices; when given, both accuracies are reported.
        label_classes: the names ``labels`` index (e.g. ``dataset.classes``); default the
            reference's classes. Labels are matched to each model's classes by name; faces whose
            class the model does not have are left out of the accuracy.

    Returns:
        ``{"n", "max_abs_prob_diff", "mean_abs_prob_diff", "agreement"[, "accuracy_reference",
        "accuracy_exported"]}``.
    """
    ref = reference if isinstance(reference, Classifier) else load_classifier(reference)
    exp = exported if isinstance(exported, Classifier) else load_classifier(exported)
    p_ref = ref.predict(images, channel_order="rgb")
    p_exp = exp.predict(images, channel_order="rgb")
    diff = np.abs(p_ref - p_exp)
    out = {
        "n": int(len(images)),
        "max_abs_prob_diff": float(diff.max()) if diff.size else 0.0,
        "mean_abs_prob_diff": float(diff.mean()) if diff.size else 0.0,
        "agreement": float(np.mean(p_ref.argmax(1) == p_exp.argmax(1))) if len(images) else 1.0,
    }
    if labels is not None:
        names = np.asarray(label_classes if label_classes is not None else ref.classes, dtype=object)
        truth = names[np.asarray(labels, dtype=int)]
        for key, clf, p in (("reference", ref, p_ref), ("exported", exp, p_exp)):
            known = np.isin(truth, clf.classes)
            predicted = np.asarray(clf.classes, dtype=object)[p.argmax(1)]
            out[f"accuracy_{key}"] = float(np.mean(predicted[known] == truth[known])) if known.any() else float("nan")
    return out


def compare_on(model_path: str | os.PathLike, exported: str | os.PathLike, spec: str, n: int = 2000) -> dict:
    """:func:`compare` on up to ``n`` faces (a fixed random sample) of DATA ``spec``'s test split (else val,
    else all of it); the result names the data and the split.

    Example:
        >>> compare_on("models/fer2013_default.keras", "models/fer2013_default.tflite", "synthetic:20", 100)
        ... # doctest: +SKIP
    """
    from fer.data.sources import load_dataset

    ds = load_dataset(spec)
    splits = set(np.asarray(ds.split).tolist())
    split = next((s for s in ("test", "val") if s in splits), None)
    if split is not None:
        ds = ds.subset(split)
    idx = np.arange(len(ds.images))
    if len(idx) > n:
        idx = np.sort(np.random.default_rng(0).choice(len(idx), n, replace=False))
    result = compare(model_path, exported, ds.images[idx], ds.labels[idx], label_classes=ds.classes)
    return {"data": str(spec), "split": split or "all", **result}
