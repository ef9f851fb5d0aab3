"""Use a trained model outside training: classify face crops, find faces, draw, process images and videos.

Quick start::

    from fer.inference import load_classifier, detect_and_predict, draw_predictions
    clf = load_classifier()                      # the shipped models/fer2013_default.keras
    image = cv2.imread("photo.jpg")              # BGR, as OpenCV reads it
    results = detect_and_predict(image, clf)     # [(box, probs, label), ...]
    cv2.imwrite("annotated.jpg", draw_predictions(image, results, clf.classes))

Command line (wired into ``python -m fer``)::

    python -m fer predict                        # the demo photo shipped in fer/assets/
    python -m fer predict photo.jpg faces/ clip.mp4 --out predictions/ [--tta] [--model FILE]
    python -m fer webcam [--camera 0]

Conventions:

* **Input colour.** :meth:`Classifier.predict` takes face crops of any size as uint8 grayscale
  (``H x W`` or ``H x W x 1``), 3-channel or 4-channel images. 3-channel input is read as **BGR**
  by default (OpenCV's convention, what ``cv2.imread`` and ``cv2.VideoCapture`` return); pass
  ``channel_order="rgb"`` for RGB arrays (PIL, matplotlib, :class:`fer.data.Dataset` images).
  A 4th (alpha) channel is dropped.
* **Preprocessing is the model's own.** Pixels stay in ``[0, 255]`` (models rescale inside); faces
  are resized to the model's input size and converted gray ↔ RGB by :func:`fer.preprocess.fit_to_model`,
  the same function evaluation uses.
* **Class names travel with the model file** (see :mod:`fer.class_names` for ``.keras`` and
  :mod:`fer.export` for ``.tflite`` / ``.onnx``); :attr:`Classifier.classes` is the column order of
  the returned probabilities.
* **Batched.** All faces of a call go through the network together (one compiled
  ``tf.function`` with a fixed input signature for Keras, one interpreter invocation for TFLite).
* **Faces** are found with OpenCV's Haar cascade ``haarcascade_frontalface_default.xml``, which ships
  inside ``opencv-python-headless`` (hence the ``<5`` pin), on a downscaled, equalized gray frame.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import json
import os
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

import fer
from fer.class_names import attach_class_names, class_names, default_class_names
from fer.preprocess import fit_to_model, model_input_shape

__all__ = [
    "DEFAULT_MODEL", "DEMO_IMAGE", "Box", "Classifier", "FaceDetector", "FaceResult",
    "attach_class_names", "class_names", "load_classifier", "load_keras_model",
    "detect_faces", "crop_face", "detect_and_predict", "predict_images", "draw_predictions",
    "plot_timeline", "predict_video", "add_predict_parser", "add_webcam_parser", "add_export_parser",
]

#: The shipped default model (trained by ``python -m fer train --recipe fer2013_default``).
DEFAULT_MODEL = Path(fer.__file__).resolve().parents[1] / "models" / "fer2013_default.keras"
#: A public-domain face photo shipped with the package (see ``fer/assets/ATTRIBUTION.md``).
DEMO_IMAGE = Path(fer.__file__).resolve().parent / "assets" / "grace_hopper.jpg"
#: File extensions treated as images / videos by the CLI.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
CHANNEL_ORDERS = ("bgr", "rgb")

#: A face box ``(x, y, w, h)`` in pixels of the full image.
Box = tuple[int, int, int, int]


# --------------------------------------------------------------------------- model loading


def load_keras_model(path: str | os.PathLike):
    """Load a ``.keras`` model with every ``fer`` custom layer registered (clear errors for bad files)."""
    from fer.evaluate import load_model

    return load_model(path)


def load_classifier(path: str | os.PathLike | None = None, *, num_threads: int | None = None) -> Classifier:
    """Load a classifier from a ``.keras``, ``.tflite`` or ``.onnx`` file.

    Args:
        path: the model file; ``None`` loads the shipped default :data:`DEFAULT_MODEL`.
        num_threads: CPU threads for the TFLite / ONNX runtimes (default: all cores).

    Raises:
        FileNotFoundError: the file (or the default model) does not exist, with how to get one.
        ValueError: the file is not a model of a supported format.
        ImportError: ``.onnx`` without ``onnxruntime`` installed.
    """
    if path is None:
        if not DEFAULT_MODEL.is_file():
            raise FileNotFoundError(
                f"the default model {DEFAULT_MODEL} does not exist yet: train it with "
                "`python -m fer train --recipe fer2013_default --data PATH/TO/fer2013.csv.gz` "
                "(see README.md), or pass --model FILE (a .keras, .tflite or .onnx model)"
            )
        path = DEFAULT_MODEL
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {str(path)!r} not found; pass --model FILE with an existing "
                                ".keras, .tflite or .onnx model")
    if path.is_dir():
        raise ValueError(f"model {str(path)!r} is a directory; pass a .keras, .tflite or .onnx model file")
    suffix = path.suffix.lower()
    if suffix in (".keras", ".h5"):
        return Classifier.from_keras(load_keras_model(path), path=path)
    if suffix == ".tflite":
        return Classifier(_TFLiteRunner(path, num_threads), path=path, fmt="tflite")
    if suffix == ".onnx":
        return Classifier(_OnnxRunner(path, num_threads), path=path, fmt="onnx")
    raise ValueError(f"{str(path)!r} is not a model file this project reads: expected a .keras, .tflite or "
                     f".onnx extension, got {path.suffix or 'none'!r}")


class _KerasRunner:
    """``model(x, training=False)`` compiled once for every batch size (fixed input signature)."""

    def __init__(self, model):
        import keras

        self.model = model
        self.input_shape = _fixed_shape(model_input_shape(model), model.name)
        self.num_outputs = int(np.asarray(model.output_shape if not isinstance(model.output_shape, list)
                                          else model.output_shape[0])[-1])
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            spec = tf.TensorSpec((None, *self.input_shape), tf.float32)
            self._fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        else:  # pragma: no cover - the project runs on the TensorFlow backend
            self._fn = model.predict_on_batch

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(x), dtype=np.float32)


def _interpreter(path: Path, num_threads: int | None):
    """A TFLite interpreter: LiteRT's (``ai_edge_litert``) when installed, else ``tf.lite.Interpreter``."""
    threads = num_threads or os.cpu_count() or 1
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # deprecated in favour of ai_edge_litert, still shipped in TF 2.21
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Interpreter(model_path=str(path), num_threads=threads)


class _TFLiteRunner:
    """A TFLite model; the input is resized only when the batch size changes."""

    def __init__(self, path: Path, num_threads: int | None = None):
        with open(path, "rb") as f:
            head = f.read(8)
        if len(head) < 8 or head[4:8] != b"TFL3":
            raise ValueError(f"{str(path)!r} is not a TFLite model (no 'TFL3' flatbuffer identifier); "
                             "export one with `python -m fer export MODEL.keras --format tflite`")
        try:
            self.interpreter = _interpreter(path, num_threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise ValueError(f"could not load TFLite model {str(path)!r}: {err}") from err
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f"{str(path)!r} has {len(inputs)} inputs / {len(outputs)} outputs; expected one image "
                             "input and one probability output")
        self._in, self._out = inputs[0], outputs[0]
        self.input_shape = _fixed_shape(tuple(int(d) for d in self._in["shape"][1:]), str(path))
        self.num_outputs = int(self._out["shape"][-1])
        self._batch = int(self._in["shape"][0])
        from fer.export import read_metadata

        self.metadata = read_metadata(path)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        it = self.interpreter
        if len(x) != self._batch:
            it.resize_tensor_input(self._in["index"], [len(x), *self.input_shape])
            it.allocate_tensors()
            self._batch = len(x)
        dtype = self._in["dtype"]
        if dtype != np.float32:  # a fully-quantized model with integer input
            scale, zero = self._in["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.rint(x / scale + zero), info.min, info.max)
        it.set_tensor(self._in["index"], np.ascontiguousarray(x, dtype=dtype))
        it.invoke()
        y = it.get_tensor(self._out["index"])
        if y.dtype != np.float32:
            scale, zero = self._out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return np.array(y, dtype=np.float32)


class _OnnxRunner:
    def __init__(self, path: Path, num_threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError(f"loading {str(path)!r} needs onnxruntime: `pip install onnxruntime`") from err
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads or os.cpu_count() or 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for invalid files
            raise ValueError(f"could not load ONNX model {str(path)!r}: {err}") from err
        inp = self.session.get_inputs()[0]
        self._name = inp.name
        self.input_shape = _fixed_shape(tuple(inp.shape[1:]), str(path))
        self.num_outputs = int(self.session.get_outputs()[0].shape[-1])
        from fer.export import read_metadata

        self.metadata = read_metadata(path)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self._name: np.ascontiguousarray(x, np.float32)})[0], np.float32)


def _fixed_shape(shape, where: str) -> tuple[int, int, int]:
    if len(shape) != 3 or any(not isinstance(d, (int, np.integer)) or d is None or d <= 0 for d in shape):
        raise ValueError(f"{where}: the image input must have a fixed size (H, W, C), got {tuple(shape)}")
    return tuple(int(d) for d in shape)  # type: ignore[return-value]


# --------------------------------------------------------------------------- classifier


class Classifier:
    """A facial-expression classifier: face crops in, class probabilities out.

    Build one with :func:`load_classifier` (from a file) or :meth:`from_keras` (an in-memory model).

    Attributes:
        classes: the class names, in the column order of :meth:`predict`'s output.
        input_shape: the model's ``(H, W, C)``.
        path: the model file (``None`` for an in-memory model).
        format: ``"keras"``, ``"tflite"`` or ``"onnx"``.
    """

    def __init__(self, runner, classes: Sequence[str] | None = None, *, path: str | os.PathLike | None = None,
                 fmt: str = "keras"):
        self._run = runner
        self.input_shape: tuple[int, int, int] = runner.input_shape
        self.path = Path(path) if path is not None else None
        self.format = fmt
        n = runner.num_outputs
        if classes is None:
            stored = getattr(runner, "metadata", {}).get("classes")
            classes = stored if stored else default_class_names(n, where=str(self.path or "the model"))
        self.classes: tuple[str, ...] = tuple(classes)
        if len(self.classes) != n:
            raise ValueError(f"{self.path or 'model'} has {n} outputs but {len(self.classes)} class names "
                             f"{self.classes}")

    @classmethod
    def from_keras(cls, model, classes: Sequence[str] | None = None, *, path=None) -> Classifier:
        """Wrap an in-memory ``keras.Model`` (class names from :func:`fer.class_names.class_names`)."""
        return cls(_KerasRunner(model), classes if classes is not None else class_names(model), path=path)

    @property
    def model(self):
        """The underlying ``keras.Model`` (``None`` for TFLite / ONNX)."""
        return getattr(self._run, "model", None)

    def __repr__(self) -> str:
        return (f"Classifier({self.format}, input_shape={self.input_shape}, classes={list(self.classes)}, "
                f"path={str(self.path) if self.path else None!r})")

    def prepare(self, faces, channel_order: str = "bgr") -> np.ndarray:
        """Turn face crops into the model's input batch (``N x H x W x C`` float32, pixels in ``[0, 255]``).

        Args:
            faces: a list of faces of any sizes (each ``H x W``, ``H x W x 1``, ``H x W x 3`` or
                ``H x W x 4``), or an array holding a batch (``N x H x W`` or ``N x H x W x C``).
                A single face as an array must be passed as ``[face]`` or ``face[None]``.
            channel_order: ``"bgr"`` (default, OpenCV) or ``"rgb"``: how to read 3/4-channel input.
        """
        order = _check_order(channel_order)
        if isinstance(faces, np.ndarray):
            if faces.ndim not in (3, 4):
                raise ValueError(f"faces array must be a batch N x H x W or N x H x W x C, got shape {faces.shape}; "
                                 "pass a single face as [face]")
            if faces.ndim == 3 and faces.shape[-1] in (1, 3, 4):
                raise ValueError(f"faces array of shape {faces.shape} is ambiguous: a 3-D array is read as N gray "
                                 "faces N x H x W, but this looks like one H x W x C face; pass it as [face]")
            return fit_to_model(_to_rgb(faces, order), self.input_shape)
        faces = list(faces)
        out = np.empty((len(faces), *self.input_shape), dtype=np.float32)
        for i, face in enumerate(faces):
            face = np.asarray(face)
            if face.ndim == 2:
                face = face[..., None]
            if face.ndim != 3 or face.shape[-1] not in (1, 3, 4) or 0 in face.shape:
                raise ValueError(f"face {i} has shape {face.shape}; expected H x W, H x W x 1, H x W x 3 (BGR/RGB) "
                                 "or H x W x 4")
            out[i] = fit_to_model(_to_rgb(face[None], order), self.input_shape)[0]
        return out

    def predict_prepared(self, x: np.ndarray, *, tta: bool | str = False, batch_size: int = 256) -> np.ndarray:
        """Probabilities for a batch already at the model's input size (output of :meth:`prepare`).

        Args:
            x: ``N x H x W x C`` float32.
            tta: test-time augmentation as in :func:`fer.evaluate.tta_views` (``True`` = flips and
                small shifts); all views of a face run in the same batch.
            batch_size: faces per network call.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        x = np.asarray(x, dtype=np.float32)
        n_out = len(self.classes)
        if len(x) == 0:
            return np.zeros((0, n_out), dtype=np.float32)
        if not tta:
            return np.concatenate([self._run(np.ascontiguousarray(x[s:s + batch_size]))
                                   for s in range(0, len(x), batch_size)])
        from fer.evaluate import tta_views

        mode = "flip_crops" if tta is True else tta
        n_views = len(tta_views(x[:1], mode))
        step = max(1, batch_size // n_views)
        out = []
        for s in range(0, len(x), step):
            chunk = x[s:s + step]
            views = np.concatenate(tta_views(chunk, mode))
            p = self._run(np.ascontiguousarray(views)).reshape(n_views, len(chunk), n_out)
            out.append(p.mean(axis=0))
        return np.concatenate(out).astype(np.float32)

    def predict(self, faces, *, channel_order: str = "bgr", tta: bool | str = False,
                batch_size: int = 256) -> np.ndarray:
        """Class probabilities for face crops of any size and channel count.

        Args:
            faces: see :meth:`prepare` (list of crops, or an ``N x H x W[ x C]`` batch).
            channel_order: ``"bgr"`` (default, OpenCV) or ``"rgb"`` for 3/4-channel faces.
            tta: test-time augmentation (see :meth:`predict_prepared`).
            batch_size: faces per network call.

        Returns:
            ``N x len(classes)`` float32; each row sums to 1 (the model's softmax).
        """
        return self.predict_prepared(self.prepare(faces, channel_order), tta=tta, batch_size=batch_size)

    def predict_labels(self, faces, **kwargs) -> list[str]:
        """The most probable class name of each face (keyword arguments as for :meth:`predict`)."""
        return [self.classes[i] for i in self.predict(faces, **kwargs).argmax(axis=1)]


def _check_order(channel_order: str) -> str:
    order = str(channel_order).lower()
    if order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
    return order


def _to_rgb(batch: np.ndarray, order: str) -> np.ndarray:
    """``N x H x W[ x C]`` → gray or RGB (BGR reversed, alpha dropped); gray is returned as is."""
    if batch.ndim == 4 and batch.shape[-1] in (3, 4):
        return batch[..., 2::-1] if order == "bgr" else batch[..., :3]
    return batch


# --------------------------------------------------------------------------- face detection


def default_cascade_path() -> Path:
    """OpenCV's frontal-face Haar cascade, shipped inside ``opencv-python-headless`` (< 5)."""
    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    if not path.is_file():
        raise FileNotFoundError(f"OpenCV's Haar cascade {path} is missing; install opencv-python-headless<5 "
                                "(OpenCV 5 wheels no longer ship the cascades)")
    return path


class FaceDetector:
    """Haar-cascade face detector, fast enough for live video.

    The frame is converted to gray, downscaled so its longer side is at most ``max_side`` pixels,
    histogram-equalized, and scanned with ``detectMultiScale``; boxes are returned in the
    coordinates of the full frame, largest first.

    Args:
        cascade: a cascade XML file; default :func:`default_cascade_path`.
        max_side: longer side of the frame the detector sees (``None``: full resolution).
        min_face: smallest face to find, in pixels of the full frame.
        scale_factor, min_neighbors: ``detectMultiScale`` parameters.
    """

    def __init__(self, cascade: str | os.PathLike | None = None, *, max_side: int | None = 400,
                 min_face: int = 40, scale_factor: float = 1.1, min_neighbors: int = 5):
        path = Path(cascade) if cascade is not None else default_cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ValueError(f"could not load a Haar cascade from {str(path)!r}")
        if max_side is not None and max_side < 48:
            raise ValueError(f"max_side must be at least 48 pixels (or None), got {max_side}")
        self.max_side, self.min_face = max_side, int(min_face)
        self.scale_factor, self.min_neighbors = float(scale_factor), int(min_neighbors)

    def __call__(self, image: np.ndarray, channel_order: str = "bgr") -> list[Box]:
        gray = _gray_uint8(image, _check_order(channel_order))
        h, w = gray.shape
        scale = min(1.0, self.max_side / max(h, w)) if self.max_side else 1.0
        if scale < 1.0:
            gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        side = max(1, round(self.min_face * scale))
        found = self._cascade.detectMultiScale(gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                               minSize=(side, side))
        boxes = []
        for x, y, bw, bh in (found if len(found) else []):
            x0, y0 = max(0, round(x / scale)), max(0, round(y / scale))
            x1, y1 = min(w, round((x + bw) / scale)), min(h, round((y + bh) / scale))
            if x1 > x0 and y1 > y0:
                boxes.append((x0, y0, x1 - x0, y1 - y0))
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


@functools.lru_cache(maxsize=1)
def default_detector() -> FaceDetector:
    """The shared :class:`FaceDetector` with default settings (the cascade is loaded once)."""
    return FaceDetector()


def _gray_uint8(image: np.ndarray, order: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)) or 0 in image.shape:
        raise ValueError(f"image must be H x W (gray), H x W x 3 or H x W x 4, got shape {image.shape}")
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image.astype(np.float32)), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return image
    codes = {("bgr", 3): cv2.COLOR_BGR2GRAY, ("rgb", 3): cv2.COLOR_RGB2GRAY,
             ("bgr", 4): cv2.COLOR_BGRA2GRAY, ("rgb", 4): cv2.COLOR_RGBA2GRAY}
    return cv2.cvtColor(np.ascontiguousarray(image), codes[(order, image.shape[-1])])


def detect_faces(image: np.ndarray, detector: FaceDetector | None = None, *, channel_order: str = "bgr") -> list[Box]:
    """Face boxes ``(x, y, w, h)`` in ``image`` (gray, BGR/RGB or with alpha), largest first."""
    return (detector or default_detector())(image, channel_order)


def crop_face(image: np.ndarray, box: Box, margin: float = 0.1) -> np.ndarray:
    """The face ``box`` grown by ``margin`` (a fraction of its size) on every side, clipped to the image."""
    x, y, w, h = box
    mx, my = round(w * margin), round(h * margin)
    ih, iw = image.shape[:2]
    return image[max(0, y - my):min(ih, y + h + my), max(0, x - mx):min(iw, x + w + mx)]


class FaceResult(NamedTuple):
    """One face: its ``box`` ``(x, y, w, h)``, class ``probs`` (in ``classifier.classes`` order) and ``label``."""

    box: Box
    probs: np.ndarray
    label: str

    @property
    def confidence(self) -> float:
        """The probability of :attr:`label`."""
        return float(np.max(self.probs))


def predict_images(images: Sequence[np.ndarray], classifier: Classifier, *, detector: FaceDetector | None = None,
                   channel_order: str = "bgr", margin: float = 0.1, tta: bool | str = False,
                   detect: bool = True) -> list[list[FaceResult]]:
    """Detect and classify the faces of several images with one batched classifier call.

    Args:
        images: images as read by OpenCV (BGR) unless ``channel_order="rgb"``.
        classifier: from :func:`load_classifier`.
        detector: default :func:`default_detector`.
        margin: crop margin around each detected box (fraction of the box size).
        tta: test-time augmentation for the classifier.
        detect: ``False`` treats each whole image as one face (already-cropped faces).

    Returns:
        For each image, its faces (largest first).
    """
    order = _check_order(channel_order)
    boxes: list[list[Box]] = []
    crops: list[np.ndarray] = []
    for image in images:
        image = np.asarray(image)
        if detect:
            found = detect_faces(image, detector, channel_order=order)
        else:
            if image.ndim < 2 or 0 in image.shape[:2]:
                raise ValueError(f"image must be H x W[ x C], got shape {image.shape}")
            found = [(0, 0, image.shape[1], image.shape[0])]
        boxes.append(found)
        crops.extend(crop_face(image, b, margin if detect else 0.0) for b in found)
    probs = classifier.predict(crops, channel_order=order, tta=tta) if crops else np.zeros((0, 0), np.float32)
    out, k = [], 0
    for found in boxes:
        faces = []
        for box in found:
            p = probs[k]
            faces.append(FaceResult(tuple(int(v) for v in box), p, classifier.classes[int(np.argmax(p))]))
            k += 1
        out.append(faces)
    return out


def detect_and_predict(image: np.ndarray, classifier: Classifier, *, detector: FaceDetector | None = None,
                       channel_order: str = "bgr", margin: float = 0.1, tta: bool | str = False) -> list[FaceResult]:
    """Find the faces in ``image`` and classify them (one batched call); largest face first.

    Returns:
        A list of :class:`FaceResult` ``(box, probs, label)``; empty when no face is found.
    """
    return predict_images([image], classifier, detector=detector, channel_order=channel_order, margin=margin,
                          tta=tta)[0]


# --------------------------------------------------------------------------- drawing

#: Matplotlib's "tab10" colours (RGB), one per class index; the timeline plot uses the same.
_TAB10 = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
          (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def class_color(index: int, channel_order: str = "bgr") -> tuple[int, int, int]:
    """The drawing colour of class ``index`` (matplotlib's tab10 cycle), in the image's channel order."""
    rgb = _TAB10[index % len(_TAB10)]
    return rgb[::-1] if _check_order(channel_order) == "bgr" else rgb


def draw_predictions(image: np.ndarray, results: Iterable[FaceResult], classes: Sequence[str] | None = None, *,
                     channel_order: str = "bgr", bars: bool = True) -> np.ndarray:
    """Draw each face's box, ``label probability`` and a probability bar per class.

    Args:
        image: the image the results belong to (gray, BGR/RGB or with alpha; not modified).
        results: from :func:`detect_and_predict`.
        classes: names for the bars (``classifier.classes``); default the 7 emotions for 7 outputs.
        channel_order: the order of ``image`` (colours are drawn in the same order).
        bars: also draw the per-class probability panel next to each face.

    Returns:
        A new ``H x W x 3`` uint8 image in ``channel_order``.
    """
    order = _check_order(channel_order)
    out = np.asarray(image)
    if out.dtype != np.uint8:
        out = np.clip(np.rint(out.astype(np.float32)), 0, 255).astype(np.uint8)
    if out.ndim == 2 or out.shape[-1] == 1:
        out = cv2.cvtColor(out.reshape(out.shape[:2]), cv2.COLOR_GRAY2BGR)
    else:
        out = np.ascontiguousarray(out[..., :3]).copy()
    h, w = out.shape[:2]
    unit = max(h, w) / 640.0
    font = float(np.clip(0.55 * unit, 0.35, 2.5))
    thick = max(1, round(unit))
    for result in results:
        box, probs, label = result
        probs = np.asarray(probs, dtype=np.float32)
        names = tuple(classes) if classes is not None else default_class_names(len(probs))
        k = int(np.argmax(probs))
        color = class_color(k, order)
        x, y, bw, bh = (int(v) for v in box)
        cv2.rectangle(out, (x, y), (x + bw, y + bh), color, thick + 1, cv2.LINE_AA)
        text = f"{label} {probs[k]:.0%}"
        (tw, th), base = cv2.getTextSize(text, _FONT, font, thick)
        top = y - th - base - 4 if y - th - base - 4 >= 0 else min(h - th - base - 4, y + bh + 2)
        cv2.rectangle(out, (x, top), (x + tw + 6, top + th + base + 4), color, -1)
        cv2.putText(out, text, (x + 3, top + th + 2), _FONT, font, _text_color(color), thick, cv2.LINE_AA)
        if bars:
            _draw_bars(out, (x, y, bw, bh), probs, names, k, order, font * 0.8, thick)
    return out


def _text_color(bg: tuple[int, int, int]) -> tuple[int, int, int]:
    return (0, 0, 0) if sum(bg) / 3 > 150 else (255, 255, 255)


def _draw_bars(out: np.ndarray, box: Box, probs: np.ndarray, names: Sequence[str], best: int, order: str,
               font: float, thick: int) -> None:
    h, w = out.shape[:2]
    x, y, bw, bh = box
    (_, th), base = cv2.getTextSize("Ag", _FONT, font, thick)
    pad = max(2, th // 3)
    row = th + base + pad
    name_w = max(cv2.getTextSize(n, _FONT, font, thick)[0][0] for n in names)
    bar_w = max(40, 6 * th)
    pw, ph = pad * 4 + name_w + bar_w, row * len(names) + pad * 2
    px = x + bw + pad if x + bw + pad + pw <= w else (x - pad - pw if x - pad - pw >= 0 else max(0, w - pw))
    py = min(max(0, y), max(0, h - ph))
    roi = out[py:py + ph, px:px + pw]
    roi[:] = (roi.astype(np.uint16) * 2 // 7).astype(np.uint8)  # darken the panel background
    for i, (name, p) in enumerate(zip(names, probs)):
        ty = py + pad + i * row + th
        white = (255, 255, 255) if i == best else (200, 200, 200)
        cv2.putText(out, name, (px + pad, ty), _FONT, font, white, thick, cv2.LINE_AA)
        bx = px + pad * 2 + name_w
        cv2.rectangle(out, (bx, ty - th), (bx + bar_w, ty), (90, 90, 90), 1)
        if p > 0:
            cv2.rectangle(out, (bx, ty - th), (bx + max(1, round(float(p) * bar_w)), ty), class_color(i, order), -1)


def _draw_status(out: np.ndarray, text: str) -> None:
    unit = max(out.shape[:2]) / 640.0
    font, thick = float(np.clip(0.6 * unit, 0.4, 2.5)), max(1, round(unit))
    (tw, th), base = cv2.getTextSize(text, _FONT, font, thick)
    cv2.rectangle(out, (0, 0), (tw + 10, th + base + 10), (0, 0, 0), -1)
    cv2.putText(out, text, (5, th + 5), _FONT, font, (255, 255, 255), thick, cv2.LINE_AA)


def plot_timeline(times: Sequence[float], probs: np.ndarray, classes: Sequence[str], *, title: str | None = None):
    """Emotion probabilities over time (one line per class; gaps where no face was found).

    Args:
        times: seconds of each processed frame.
        probs: ``T x len(classes)`` probabilities (rows of NaN for frames without a face).
        classes: the class names.
        title: optional title.

    Returns:
        A ``matplotlib.figure.Figure`` (not attached to pyplot; save it with ``fig.savefig``).
    """
    from matplotlib.figure import Figure

    probs = np.asarray(probs, dtype=np.float32).reshape(len(times), len(classes))
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for k, name in enumerate(classes):
        ax.plot(times, probs[:, k], color=np.array(_TAB10[k % len(_TAB10)]) / 255, lw=1.6, label=name)
    ax.set_ylim(0, 1)
    if len(times):
        ax.set_xlim(float(np.min(times)), max(float(np.max(times)), float(np.min(times)) + 1e-3))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    if title:
        ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- files


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


def _write_image(path: Path, image: np.ndarray) -> None:
    tmp = _tmp(path)
    if not cv2.imwrite(str(tmp), image):
        tmp.unlink(missing_ok=True)
        raise OSError(f"could not write image {str(path)!r}")
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    tmp = _tmp(path)
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence]) -> None:
    tmp = _tmp(path)
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)


def _save_figure(fig, path: Path) -> None:
    tmp = _tmp(path)
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)


def _face_header(classes: Sequence[str]) -> list[str]:
    return ["face", "x", "y", "w", "h", "label", "confidence", *[f"p_{c}" for c in classes]]


def _face_row(i: int, r: FaceResult) -> list:
    return [i, *r.box, r.label, f"{r.confidence:.6f}", *[f"{p:.6f}" for p in r.probs]]


def _face_json(r: FaceResult, classes: Sequence[str]) -> dict:
    return {"box": list(r.box), "label": r.label, "confidence": round(r.confidence, 6),
            "probabilities": {c: round(float(p), 6) for c, p in zip(classes, r.probs)}}


# --------------------------------------------------------------------------- video


def predict_video(path: str | os.PathLike, classifier: Classifier, out_dir: str | os.PathLike, *, every: int = 1,
                  detector: FaceDetector | None = None, margin: float = 0.1, tta: bool | str = False,
                  max_frames: int | None = None) -> dict:
    """Classify the faces of a video; write an annotated video, a per-frame CSV and a timeline plot.

    Every ``every``-th frame is detected and classified; the frames in between are annotated with
    the latest result. Outputs in ``out_dir``: ``<stem>.annotated.mp4`` (``mp4v``), ``<stem>.frames.csv``
    (one row per face of each processed frame, ``face = -1`` for frames without a face) and
    ``<stem>.timeline.png`` (probabilities of the largest face over time).

    Returns:
        A summary dict (paths, frame counts, fps, mean probabilities and the dominant class).

    Raises:
        ValueError: when the file cannot be opened as a video or holds no frame.
    """
    path, out_dir = Path(path), Path(out_dir)
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ValueError(f"could not open video {str(path)!r}: not a video, or a codec OpenCV cannot read")
        ok, frame = cap.read()
        if not ok:
            raise ValueError(f"video {str(path)!r} holds no readable frame")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 25.0
        out_dir.mkdir(parents=True, exist_ok=True)
        video_out = out_dir / f"{path.stem}.annotated.mp4"
        tmp_video = _tmp(video_out)
        height, width = frame.shape[:2]
        writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            raise OSError(f"could not open a video writer for {str(video_out)!r}")
        classes = classifier.classes
        rows, times, timeline = [], [], []
        latest: list[FaceResult] = []
        index = processed = with_face = 0
        try:
            while ok:
                if index % every == 0:
                    latest = detect_and_predict(frame, classifier, detector=detector, margin=margin, tta=tta)
                    t = index / fps
                    processed += 1
                    times.append(t)
                    if latest:
                        with_face += 1
                        timeline.append(latest[0].probs)
                        rows.extend([index, f"{t:.4f}", *_face_row(i, r)] for i, r in enumerate(latest))
                    else:
                        timeline.append(np.full(len(classes), np.nan, np.float32))
                        rows.append([index, f"{t:.4f}", -1, "", "", "", "", "", "", *[""] * len(classes)])
                writer.write(draw_predictions(frame, latest, classes))
                index += 1
                if max_frames is not None and index >= max_frames:
                    break
                ok, frame = cap.read()
        finally:
            writer.release()
        os.replace(tmp_video, video_out)
    finally:
        cap.release()
    csv_out = out_dir / f"{path.stem}.frames.csv"
    _write_csv(csv_out, ["frame", "time_s", *_face_header(classes)], rows)
    probs = np.asarray(timeline, dtype=np.float32).reshape(len(times), len(classes))
    plot_out = out_dir / f"{path.stem}.timeline.png"
    _save_figure(plot_timeline(times, probs, classes, title=path.name), plot_out)
    mean = np.nanmean(probs, axis=0) if with_face else np.full(len(classes), np.nan)
    return {
        "video": str(path), "annotated": str(video_out), "csv": str(csv_out), "timeline": str(plot_out),
        "fps": fps, "frames": index, "processed_frames": processed, "frames_with_face": with_face,
        "every": every,
        "mean_probabilities": {c: (None if np.isnan(p) else round(float(p), 6)) for c, p in zip(classes, mean)},
        "dominant": classes[int(np.nanargmax(mean))] if with_face else None,
    }


# --------------------------------------------------------------------------- CLI helpers


class _Status:
    code = 1


@contextlib.contextmanager
def cli_errors(command: str) -> Iterator[_Status]:
    """Run a CLI command body: errors become one ``fer COMMAND: error: ...`` line on stderr, exit code 1.

    Set the environment variable ``FER_DEBUG=1`` to get the traceback instead.
    """
    status = _Status()
    try:
        yield status
    except KeyboardInterrupt:
        print(f"fer {command}: interrupted", file=sys.stderr)
        status.code = 130
    except Exception as err:  # the CLI promise: a message, never a traceback
        if os.environ.get("FER_DEBUG"):
            raise
        expected = isinstance(err, (FileNotFoundError, ValueError, OSError, ImportError, _CLIError))
        text = str(err) if expected else f"{type(err).__name__}: {err} (set FER_DEBUG=1 for the traceback)"
        print(f"fer {command}: error: {text}", file=sys.stderr)
        status.code = 1


class _CLIError(Exception):
    """A user-facing failure with a complete message (no face found, no camera...)."""


#: Face-detector settings for live video (webcam, benchmark): a smaller frame and coarser scale steps
#: cost about a third of the photo defaults and still find faces of 40+ pixels.
LIVE_DETECTOR = {"max_side": 320, "scale_factor": 1.2}


def _add_detection_args(p: argparse.ArgumentParser, detect_size: int = 400, scale_factor: float = 1.1) -> None:
    p.add_argument("--model", "-m", default=None, metavar="FILE",
                   help="a .keras, .tflite or .onnx model (default: the shipped models/fer2013_default.keras)")
    p.add_argument("--margin", type=float, default=0.1,
                   help="crop margin around each detected face, as a fraction of its size (default: 0.1)")
    p.add_argument("--detect-size", type=int, default=detect_size, metavar="PX",
                   help=f"longer side of the frame the face detector sees (default: {detect_size}; larger finds "
                        "smaller faces, slower)")
    p.add_argument("--min-face", type=int, default=40, metavar="PX", help="smallest face to find (default: 40 px)")
    p.add_argument("--scale-factor", type=float, default=scale_factor, metavar="F",
                   help=f"Haar detector scale step (default: {scale_factor}; larger is faster, may miss faces)")


def _detector_from(args: argparse.Namespace) -> FaceDetector:
    if args.margin < 0:
        raise ValueError(f"--margin must be >= 0, got {args.margin}")
    if args.detect_size < 48:
        raise ValueError(f"--detect-size must be at least 48 pixels, got {args.detect_size}")
    if args.scale_factor <= 1.0:
        raise ValueError(f"--scale-factor must be > 1, got {args.scale_factor}")
    return FaceDetector(max_side=args.detect_size, min_face=args.min_face, scale_factor=args.scale_factor)


def _expand_inputs(inputs: Sequence[str]) -> list[tuple[Path, str, bool]]:
    """``(path, "image"|"video", explicit)`` for each input; folders are expanded (sorted, recursive)."""
    out = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in
                           IMAGE_EXTENSIONS + VIDEO_EXTENSIONS and not p.name.startswith("."))
            if not found:
                raise FileNotFoundError(f"folder {raw!r} holds no image ({', '.join(IMAGE_EXTENSIONS)}) or video "
                                        f"({', '.join(VIDEO_EXTENSIONS)})")
            out.extend((p, "video" if p.suffix.lower() in VIDEO_EXTENSIONS else "image", False) for p in found)
        elif path.is_file():
            out.append((path, "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image", True))
        else:
            raise FileNotFoundError(f"input {raw!r} not found; pass an image, a folder of images or a video")
    return out


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{str(path)!r} is not an image OpenCV can read (supported: {', '.join(IMAGE_EXTENSIONS)})")
    return image


def _unique_name(name: str, used: set[str]) -> str:
    stem, suffix = os.path.splitext(name)
    candidate, i = name, 1
    while candidate in used:
        candidate, i = f"{stem}_{i}{suffix}", i + 1
    used.add(candidate)
    return candidate


# --------------------------------------------------------------------------- predict CLI


def add_predict_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``predict``: ``python -m fer predict [IMAGE|DIR|VIDEO ...] [--model FILE] [--tta] [--out DIR]``."""
    p = subparsers.add_parser(
        "predict", help="find faces in images/videos and classify their expressions",
        description="Find the faces in images, folders of images or videos and classify their expressions. "
                    "Writes annotated images/videos plus predictions.csv and predictions.json to --out. "
                    "Without INPUT it runs on the demo photo shipped in fer/assets/.",
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image file, folder of images, or video file")
    p.add_argument("--demo", action="store_true", help="(also) run on the shipped demo photo")
    _add_detection_args(p)
    p.add_argument("--tta", action="store_true", help="test-time augmentation (flips and small shifts)")
    p.add_argument("--out", "-o", default="predictions", metavar="DIR", help="output folder (default: predictions)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="videos: classify every Nth frame (default: 1)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="videos: stop after N frames")
    p.add_argument("--no-detect", action="store_true",
                   help="images are already-cropped faces: classify each whole image, no face detection")
    p.set_defaults(func=run_predict)
    return p


def run_predict(args: argparse.Namespace) -> int:
    """The ``predict`` subcommand; returns the exit code (errors go to stderr, without a traceback)."""
    with cli_errors("predict") as status:
        inputs = list(args.inputs)
        if args.demo or not inputs:
            inputs.append(str(DEMO_IMAGE))
        if args.every < 1:
            raise ValueError(f"--every must be >= 1, got {args.every}")
        items = _expand_inputs(inputs)
        detector = _detector_from(args)
        classifier = load_classifier(args.model)
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        status.code = _predict_files(items, classifier, detector, out_dir, args)
    return status.code


def _predict_files(items, classifier: Classifier, detector: FaceDetector, out_dir: Path,
                   args: argparse.Namespace) -> int:
    classes = classifier.classes
    images_json, videos_json, rows = [], [], []
    failed, faces_total, used = False, 0, set()
    image_items = [(p, explicit) for p, kind, explicit in items if kind == "image"]
    for start in range(0, len(image_items), 32):  # bounded memory; one classifier call per chunk
        chunk, pictures = [], []
        for path, explicit in image_items[start:start + 32]:
            try:
                pictures.append(_read_image(path))
                chunk.append(path)
            except ValueError as err:
                print(f"fer predict: {'error' if explicit else 'skipped'}: {err}", file=sys.stderr)
                failed |= explicit
        results = predict_images(pictures, classifier, detector=detector, margin=args.margin, tta=args.tta,
                                 detect=not args.no_detect)
        for path, picture, faces in zip(chunk, pictures, results):
            annotated = out_dir / _unique_name(f"{path.stem}.annotated{path.suffix.lower()}", used)
            _write_image(annotated, draw_predictions(picture, faces, classes))
            rows.extend([str(path), *_face_row(i, r)] for i, r in enumerate(faces))
            images_json.append({"image": str(path), "annotated": str(annotated),
                                "size": [int(picture.shape[1]), int(picture.shape[0])],
                                "faces": [_face_json(r, classes) for r in faces]})
            faces_total += len(faces)
            if faces:
                summary = "; ".join(f"{r.label} {r.confidence:.0%} at {r.box}" for r in faces)
                print(f"{path}: {len(faces)} face{'s' if len(faces) > 1 else ''}: {summary}")
            else:
                print(f"fer predict: warning: no face found in {path}", file=sys.stderr)
    for path, kind, explicit in items:
        if kind != "video":
            continue
        try:
            summary = predict_video(path, classifier, out_dir, every=args.every, detector=detector,
                                    margin=args.margin, tta=args.tta, max_frames=args.max_frames)
        except ValueError as err:
            print(f"fer predict: {'error' if explicit else 'skipped'}: {err}", file=sys.stderr)
            failed |= explicit
            continue
        videos_json.append(summary)
        faces_total += summary["frames_with_face"]
        print(f"{path}: {summary['frames_with_face']}/{summary['processed_frames']} processed frames with a face, "
              f"mostly {summary['dominant']}; wrote {summary['annotated']}")
    csv_path, json_path = out_dir / "predictions.csv", out_dir / "predictions.json"
    _write_csv(csv_path, ["image", *_face_header(classes)], rows)
    report = {
        "command": "python -m fer predict " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["predict"] else sys.argv[1:]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": str(classifier.path) if classifier.path else None, "format": classifier.format,
        "classes": list(classes), "tta": bool(args.tta), "margin": args.margin,
        "images": images_json, "videos": videos_json,
    }
    _write_text(json_path, json.dumps(report, indent=2))
    print(f"wrote {csv_path} and {json_path}")
    if faces_total == 0:
        print("fer predict: error: no face found in any input; use a frontal face photo, a larger --detect-size "
              "for small faces, or --no-detect for images that are already face crops", file=sys.stderr)
        return 1
    return 1 if failed else 0


# --------------------------------------------------------------------------- webcam CLI


def add_webcam_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``webcam``: ``python -m fer webcam [--camera 0]`` (live, with FPS)."""
    p = subparsers.add_parser(
        "webcam", help="classify expressions live from a camera",
        description="Classify facial expressions live from a camera, showing boxes, labels, probability bars "
                    "and FPS. Press q or Esc (or close the window) to stop. --camera also accepts a video file.",
    )
    p.add_argument("--camera", default="0", help="camera index (default: 0) or a video file / stream URL")
    _add_detection_args(p, LIVE_DETECTOR["max_side"], LIVE_DETECTOR["scale_factor"])
    p.add_argument("--every", type=int, default=1, metavar="N", help="classify every Nth frame (default: 1)")
    p.add_argument("--out", "-o", default=None, metavar="FILE.mp4", help="also record the annotated stream")
    p.add_argument("--no-display", action="store_true", help="do not open a window (use with --out)")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    p.set_defaults(func=run_webcam)
    return p


class _Window:
    """Shows frames with OpenCV's GUI when available, else a matplotlib window."""

    def __init__(self, title: str):
        self.title, self._plt, self._img = title, None, None
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
            self.kind = "opencv"
            return
        except cv2.error:
            pass
        import matplotlib

        backend = matplotlib.get_backend().lower()
        if backend in ("agg", "pdf", "ps", "svg", "pgf", "cairo", "template") or "inline" in backend:
            raise _CLIError("cannot open a window: this OpenCV build is headless and matplotlib has no GUI "
                            f"backend ({backend}); pass --out FILE.mp4 --no-display to record instead")
        import matplotlib.pyplot as plt

        plt.ion()
        self._plt, self.kind = plt, "matplotlib"
        self._fig, self._ax = plt.subplots(num=title)
        self._ax.axis("off")

    def show(self, frame_bgr: np.ndarray) -> bool:
        """Show a frame; ``False`` when the user asked to stop."""
        if self.kind == "opencv":
            cv2.imshow(self.title, frame_bgr)
            key = cv2.waitKey(1) & 0xFF
            return key not in (ord("q"), 27) and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        rgb = frame_bgr[..., ::-1]
        if self._img is None:
            self._img = self._ax.imshow(rgb)
        else:
            self._img.set_data(rgb)
        self._plt.pause(0.001)
        return self._plt.fignum_exists(self._fig.number)

    def close(self) -> None:
        if self.kind == "opencv":
            cv2.destroyWindow(self.title)
        elif self._plt is not None:
            self._plt.close(self._fig)


def run_webcam(args: argparse.Namespace) -> int:
    """The ``webcam`` subcommand; returns the exit code (no camera → message on stderr, exit 1)."""
    with cli_errors("webcam") as status:
        if args.every < 1:
            raise ValueError(f"--every must be >= 1, got {args.every}")
        source = int(args.camera) if str(args.camera).isdigit() else str(args.camera)
        cap = cv2.VideoCapture(source)
        try:
            if not cap.isOpened():
                raise _CLIError(f"no camera {args.camera!r}: OpenCV could not open it. Is a camera connected and "
                                "free? Try another index (--camera 1) or pass a video file")
            ok, frame = cap.read()
            if not ok:
                raise _CLIError(f"camera {args.camera!r} opened but returned no frame")
            detector = _detector_from(args)
            classifier = load_classifier(args.model)
            window = None if args.no_display else _Window("fer webcam (q to quit)")
            if window is None and not args.out:
                print("fer webcam: no window and no --out: frames are classified and only the FPS is reported",
                      file=sys.stderr)
            status.code = _webcam_loop(cap, frame, classifier, detector, window, args)
        finally:
            cap.release()
    return status.code


def _webcam_loop(cap, frame, classifier: Classifier, detector: FaceDetector, window, args) -> int:
    writer, tmp, out = None, None, None
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp(out)
        fps_in = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        fps_in = fps_in if np.isfinite(fps_in) and 0 < fps_in <= 120 else 25.0
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps_in, frame.shape[1::-1])
        if not writer.isOpened():
            raise OSError(f"could not open a video writer for {str(out)!r}")
    latest: list[FaceResult] = []
    fps, frames, start, last = 0.0, 0, time.perf_counter(), time.perf_counter()
    ok = True
    try:
        while ok:
            if frames % args.every == 0:
                latest = detect_and_predict(frame, classifier, detector=detector, margin=args.margin)
            shown = draw_predictions(frame, latest, classifier.classes)
            now = time.perf_counter()
            fps = 1.0 / max(now - last, 1e-6) if frames == 0 else 0.9 * fps + 0.1 / max(now - last, 1e-6)
            last = now
            _draw_status(shown, f"{fps:.1f} FPS")
            if writer is not None:
                writer.write(shown)
            frames += 1
            if window is not None and not window.show(shown):
                break
            if args.max_frames is not None and frames >= args.max_frames:
                break
            ok, frame = cap.read()
    finally:
        if writer is not None:
            writer.release()
            os.replace(tmp, out)
        if window is not None:
            window.close()
    elapsed = time.perf_counter() - start
    print(f"{frames} frames in {elapsed:.1f} s ({frames / max(elapsed, 1e-9):.1f} FPS)"
          + (f"; wrote {out}" if out else ""))
    return 0


def add_export_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``export`` (see :func:`fer.export.add_export_parser`)."""
    from fer.export import add_export_parser as add

    return add(subparsers)
