"""The face classifier: :class:`Classifier` (face crops in, class probabilities out) and :func:`load_classifier`.

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
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from fer.class_names import class_names, default_class_names
from fer.inference.runtimes import KerasRuntime, OnnxRuntime, Runtime, TFLiteRuntime, load_keras_model
from fer.landmarks.data import LandmarkRuntime, is_landmark_model
from fer.preprocess import fit_to_model
from fer.tta import predict_views

#: Where the default model lives: the repository's copy (a checkout, an editable install), then the
#: copy the wheel carries inside the package (``setup.py`` puts it there at build time).
DEFAULT_MODEL_CANDIDATES = (Path(__file__).resolve().parents[2] / "models" / "fer2013_default.keras",
                            Path(__file__).resolve().parents[1] / "assets" / "fer2013_default.keras")
#: The shipped default model (trained by ``python -m fer train --recipe fer2013_default``): the first
#: of :data:`DEFAULT_MODEL_CANDIDATES` that exists (the repository's path when none does).
DEFAULT_MODEL = next((p for p in DEFAULT_MODEL_CANDIDATES if p.is_file()), DEFAULT_MODEL_CANDIDATES[0])
CHANNEL_ORDERS = ("bgr", "rgb")


def load_classifier(path: str | os.PathLike | Sequence[str | os.PathLike] | None = None, *,
                    num_threads: int | None = None, freeze: bool = False) -> Classifier:
    """Load a classifier from a ``.keras``, ``.tflite`` or ``.onnx`` file, or an ensemble of ``.keras`` files.

    Args:
        path: the model file; several ``.keras`` files make an ensemble (their probabilities averaged,
            :func:`fer.ensemble.build_ensemble`); ``None`` loads the shipped default :data:`DEFAULT_MODEL`.
        num_threads: CPU threads for the TFLite / ONNX runtimes (default: all cores).
        freeze: run a Keras model as a frozen graph (:func:`~fer.inference.runtimes.frozen_predict`):
            less CPU per call, about a second more to load; for servers and live video.

    Example:
        >>> import cv2
        >>> from fer.inference import detect_and_predict, load_classifier
        >>> clf = load_classifier()  # the shipped models/fer2013_default.keras  # doctest: +SKIP
        >>> faces = detect_and_predict(cv2.imread("photo.jpg"), clf)  # doctest: +SKIP
        >>> [(f.label, round(f.confidence, 2)) for f in faces]  # doctest: +SKIP
        >>> clf.predict(face_crops_48x48_gray)  # (n, 7) probabilities, columns clf.classes  # doctest: +SKIP

    Raises:
        FileNotFoundError: the file (or the default model) does not exist, with how to get one.
        ValueError: the file is not a model of a supported format.
        ImportError: ``.onnx`` without ``onnxruntime`` installed.
    """
    if isinstance(path, (list, tuple)):
        if len(path) > 1:
            from fer.ensemble import load_ensemble

            return Classifier.from_keras(load_ensemble(path), path=Path(path[0]), freeze=freeze)
        path = path[0] if path else None
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
        return Classifier.from_keras(load_keras_model(path), path=path, freeze=freeze)
    if suffix == ".tflite":
        return Classifier(TFLiteRuntime(path, num_threads), path=path, fmt="tflite")
    if suffix == ".onnx":
        return Classifier(OnnxRuntime(path, num_threads), path=path, fmt="onnx")
    raise ValueError(f"{str(path)!r} is not a model file this project reads: expected a .keras, .tflite or "
                     f".onnx extension, got {path.suffix or 'none'!r}")


class Classifier:
    """A facial-expression classifier: face crops in, class probabilities out.

    Build one with :func:`load_classifier` (from a file) or :meth:`from_keras` (an in-memory model).

    Attributes:
        classes: the class names, in the column order of :meth:`predict`'s output.
        input_shape: the model's ``(H, W, C)``.
        path: the model file (``None`` for an in-memory model).

    Example:
        >>> clf = load_classifier("models/fer2013_default.keras")  # doctest: +SKIP
        >>> probs = clf.predict(crops)  # crops: (n, H, W) or (n, H, W, C) uint8 faces, any size  # doctest: +SKIP
        >>> dict(zip(clf.classes, probs[0].round(2)))  # doctest: +SKIP
        format: ``"keras"``, ``"tflite"`` or ``"onnx"``.
    """

    def __init__(self, runner: Runtime, classes: Sequence[str] | None = None, *,
                 path: str | os.PathLike | None = None, fmt: str = "keras"):
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
    def from_keras(cls, model: keras.Model, classes: Sequence[str] | None = None, *,
                   path: str | os.PathLike | None = None, freeze: bool = False) -> Classifier:
        """Wrap an in-memory ``keras.Model`` (class names from :func:`fer.class_names.class_names`).

        A landmark or fusion model (an input named ``landmarks``) gets a
        :class:`~fer.landmarks.data.LandmarkRuntime`: it takes face crops like every other model and runs
        FaceMesh on them itself. ``freeze=True`` runs any other model as a frozen graph
        (:func:`~fer.inference.runtimes.frozen_predict`): less CPU per call, about a second more to start,
        and later changes to the model's weights are not seen (landmark models ignore it).
        """
        runtime = LandmarkRuntime(model) if is_landmark_model(model) else KerasRuntime(model, freeze=freeze)
        return cls(runtime, classes if classes is not None else class_names(model), path=path)

    @property
    def model(self) -> keras.Model | None:
        """The underlying ``keras.Model`` (``None`` for TFLite / ONNX)."""
        return getattr(self._run, "model", None)

    def __repr__(self) -> str:
        return (f"Classifier({self.format}, input_shape={self.input_shape}, classes={list(self.classes)}, "
                f"path={str(self.path) if self.path else None!r})")

    def prepare(self, faces: Sequence[np.ndarray] | np.ndarray, channel_order: str = "bgr") -> np.ndarray:
        """Turn face crops into the model's input batch (``N x H x W x C`` float32, pixels in ``[0, 255]``).

        Args:
            faces: a list of faces of any sizes (each ``H x W``, ``H x W x 1``, ``H x W x 3`` or
                ``H x W x 4``), or an array holding a batch (``N x H x W`` or ``N x H x W x C``).
                A single face as an array must be passed as ``[face]`` or ``face[None]``.
            channel_order: ``"bgr"`` (default, OpenCV) or ``"rgb"``: how to read 3/4-channel input.
        """
        order = check_order(channel_order)
        if isinstance(faces, np.ndarray):
            if faces.ndim not in (3, 4):
                raise ValueError(f"faces array must be a batch N x H x W or N x H x W x C, got shape {faces.shape}; "
                                 "pass a single face as [face]")
            if faces.ndim == 3 and faces.shape[-1] in (1, 3, 4):
                raise ValueError(f"faces array of shape {faces.shape} is ambiguous: a 3-D array is read as N gray "
                                 "faces N x H x W, but this looks like one H x W x C face; pass it as [face]")
            return fit_to_model(to_rgb(faces, order), self.input_shape)
        faces = list(faces)
        out = np.empty((len(faces), *self.input_shape), dtype=np.float32)
        for i, face in enumerate(faces):
            face = np.asarray(face)
            if face.ndim == 2:
                face = face[..., None]
            if face.ndim != 3 or face.shape[-1] not in (1, 3, 4) or 0 in face.shape:
                raise ValueError(f"face {i} has shape {face.shape}; expected H x W, H x W x 1, H x W x 3 (BGR/RGB) "
                                 "or H x W x 4")
            out[i] = fit_to_model(to_rgb(face[None], order), self.input_shape)[0]
        return out

    def predict_prepared(self, x: np.ndarray, *, tta: bool | str = False, batch_size: int = 256) -> np.ndarray:
        """Probabilities for a batch already at the model's input size (output of :meth:`prepare`).

        Args:
            x: ``N x H x W x C`` float32.
            tta: test-time augmentation as in :func:`fer.tta.tta_views` (``True`` = flips and
                small shifts); all views of a face run in the same batch.
            batch_size: faces per network call.
        """
        return predict_views(self._run, x, tta, batch_size=batch_size, num_outputs=len(self.classes))

    def predict(self, faces: Sequence[np.ndarray] | np.ndarray, *, channel_order: str = "bgr", tta: bool | str = False,
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

    def predict_labels(self, faces: Sequence[np.ndarray] | np.ndarray, **kwargs) -> list[str]:
        """The most probable class name of each face (keyword arguments as for :meth:`predict`)."""
        return [self.classes[i] for i in self.predict(faces, **kwargs).argmax(axis=1)]


def check_order(channel_order: str) -> str:
    """``channel_order`` lower-cased, or a ``ValueError`` unless it is ``"bgr"`` or ``"rgb"``."""
    order = str(channel_order).lower()
    if order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
    return order


def to_rgb(batch: np.ndarray, order: str) -> np.ndarray:
    """``N x H x W[ x C]`` → gray or RGB (BGR reversed, alpha dropped); gray is returned as is."""
    if batch.ndim == 4 and batch.shape[-1] in (3, 4):
        return batch[..., 2::-1] if order == "bgr" else batch[..., :3]
    return batch
