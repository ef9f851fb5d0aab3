"""Model runtimes: load a ``.keras``, ``.tflite`` or ``.onnx`` file and run it on a prepared batch.

A runtime is the backend of a :class:`fer.inference.Classifier`: it takes a float32 batch already at
the model's input size (``N x H x W x C``, pixels in ``[0, 255]``) and returns float32 probabilities.
Every runtime has ``input_shape`` ``(H, W, C)``, ``num_outputs`` and ``metadata`` (the class names an
exported file carries, ``{}`` for Keras, whose names live in the model, see :mod:`fer.class_names`).

* :class:`KerasRuntime` calls :func:`compiled_predict`, the one compiled ``model(x, training=False)``
  of the project (evaluation uses it too): traced once for every batch size. ``freeze=True`` runs
  :func:`frozen_predict` instead (the same graph with the weights as constants, for long-lived
  servers and live video: less work per call, a second more to start).
* :class:`TFLiteRuntime` runs LiteRT's interpreter (``ai_edge_litert``) when installed, else
  ``tf.lite.Interpreter``; int8 models are quantized / dequantized around the call.
* :class:`OnnxRuntime` runs ``onnxruntime`` on the CPU (an optional dependency).

:func:`read_metadata` reads the ``fer_metadata`` JSON document that :mod:`fer.export` writes into
TFLite / ONNX files (or a sidecar ``<file>.json``).
"""

from __future__ import annotations

import json
import os
import warnings
import weakref
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import keras
import numpy as np

from fer.preprocess import model_input_shape

#: The name of the metadata entry (TFLite) / key (ONNX) holding the class names.
METADATA_KEY = "fer_metadata"

# One compiled inference function per model, dropped with the model.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Runtime(Protocol):
    """What a :class:`fer.inference.Classifier` needs of a backend (the three classes below)."""

    input_shape: tuple[int, int, int]
    num_outputs: int
    metadata: dict

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``N x H x W x C`` float32 in ``[0, 255]`` → ``N x num_outputs`` float32 probabilities."""
        ...


# --------------------------------------------------------------------------- Keras


def load_keras_model(path: str | os.PathLike, compile: bool = False) -> keras.Model:  # noqa: A002
    """Load a saved ``.keras`` (or legacy ``.h5``) model, with the project's custom layers registered.

    Args:
        path: the model file.
        compile: also restore the optimizer/loss (not needed to predict or evaluate).

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: when ``path`` is not a Keras model file (wrong extension, a weights-only file,
            a directory, a file that is not a ``.keras`` zip archive, or one Keras cannot read).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {str(path)!r} not found; train one with `python -m fer train` "
                                "or pass the path of an existing .keras file")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory (a TF SavedModel?); pass a .keras model file")
    if path.name.endswith(".weights.h5"):
        raise ValueError(f"{str(path)!r} holds weights only; build the architecture with "
                         "fer.models.build(name, weights=path) instead")
    if path.suffix not in (".keras", ".h5"):
        raise ValueError(f"{str(path)!r} is not a Keras model file: expected a .keras (or .h5) extension")
    if path.suffix == ".keras":
        problem = _keras_archive_problem(path)
        if problem:
            raise ValueError(f"could not load Keras model from {str(path)!r}: the file exists but is not a valid "
                             f"Keras file ({problem}); save the model again or pass another model file")
    try:  # importing any fer module imported fer/__init__, which registered the custom layers
        model = keras.saving.load_model(path, compile=compile)
    except Exception as err:  # Keras raises a zoo of types for corrupt / foreign files
        raise ValueError(f"could not load Keras model from {str(path)!r}: {type(err).__name__}: {err}") from err
    if not isinstance(model, keras.Model):
        raise ValueError(f"{str(path)!r} holds a {type(model).__name__}, not a keras.Model")
    return model


def _keras_archive_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a ``.keras`` archive (a zip holding ``config.json``), or ``None``."""
    if not zipfile.is_zipfile(path):
        return "a .keras file is a zip archive and this one is not: empty, truncated or another format"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as err:
        return f"a damaged zip archive: {err}"
    if "config.json" not in names:
        return "a zip archive without the config.json every .keras file holds"
    return None


def compiled_predict(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """``model(x, training=False)`` compiled once for every batch size, cached per model.

    On the TensorFlow backend the returned function is a ``tf.function`` with the input signature
    ``(None, H, W, C)`` (``H``/``W`` may be ``None`` for size-agnostic models), so changing the
    batch size never retraces; on other backends it is Keras' ``predict_on_batch``. The cache holds
    the model weakly: the function goes with the model.
    """
    fn = _COMPILED.get(model)
    if fn is not None:
        return fn
    ref = weakref.ref(model)  # the cache must not keep the model alive
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec((None, *model_input_shape(model)), tf.float32)
        fn = tf.function(lambda x: ref()(x, training=False), input_signature=[spec])
    else:  # pragma: no cover - the project runs on the TensorFlow backend
        def fn(x: np.ndarray) -> np.ndarray:
            return ref().predict_on_batch(x)
    _COMPILED[model] = fn
    return fn


def frozen_predict(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """``model(x, training=False)`` as a frozen graph: the weights as they are now, folded in as constants.

    The same computation as :func:`compiled_predict` (probabilities equal to float32 round-off), but
    TensorFlow's graph optimizer can fold constants (the batch-norm scales and shifts, the input
    rescaling) into the layers around them, so each call does less work (the shipped ``fer_resnet`` on
    the project's 2-core CPU: about 14% less CPU time per face at batch 1, 4% at batch 256). Freezing
    costs about a second of CPU once, so it pays off for servers and live video, not for one photo.
    Traced once for every batch size, like :func:`compiled_predict`. On a backend other than
    TensorFlow, or for a model whose graph cannot be frozen, this is :func:`compiled_predict` (with a
    warning for the latter). Not cached: each call freezes the weights the model has at that moment.
    """
    if keras.backend.backend() != "tensorflow":  # pragma: no cover - the project runs on the TensorFlow backend
        return compiled_predict(model)
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec((None, *model_input_shape(model)), tf.float32)
    try:
        graph = convert_variables_to_constants_v2(
            tf.function(lambda x: model(x, training=False)).get_concrete_function(spec))
    except Exception as err:  # a graph TensorFlow cannot freeze: keep the variables
        warnings.warn(f"could not freeze {model.name} ({type(err).__name__}: {err}); running it unfrozen",
                      stacklevel=2)
        return compiled_predict(model)

    def fn(x: np.ndarray) -> np.ndarray:
        out = graph(tf.convert_to_tensor(x, tf.float32))
        return out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out

    return fn


class KerasRuntime:
    """An in-memory ``keras.Model`` run through :func:`compiled_predict` (``freeze=True``: :func:`frozen_predict`).

    A frozen runtime does not see later changes to the model's weights (it holds a copy).
    """

    def __init__(self, model: keras.Model, *, freeze: bool = False):
        self.model = model
        self.metadata: dict = {}
        self.input_shape = fixed_shape(model_input_shape(model), model.name)
        output_shape = model.output_shape[0] if isinstance(model.output_shape, list) else model.output_shape
        self.num_outputs = int(output_shape[-1])
        self.frozen = bool(freeze)
        self._fn = frozen_predict(model) if freeze else compiled_predict(model)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(np.asarray(x, dtype=np.float32)), dtype=np.float32)


# --------------------------------------------------------------------------- TFLite


def _interpreter(path: Path, num_threads: int | None):
    """A TFLite interpreter: LiteRT's (``ai_edge_litert``) when installed, else ``tf.lite.Interpreter``."""
    threads = num_threads or os.cpu_count() or 1
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806  deprecated for ai_edge_litert, still shipped in TF 2.21
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Interpreter(model_path=str(path), num_threads=threads)


class TFLiteRuntime:
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
        self.input_shape = fixed_shape(tuple(int(d) for d in self._in["shape"][1:]), str(path))
        self.num_outputs = int(self._out["shape"][-1])
        self._batch = int(self._in["shape"][0])
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


# --------------------------------------------------------------------------- ONNX


class OnnxRuntime:
    """An ONNX model run by ``onnxruntime`` on the CPU."""

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
        self.input_shape = fixed_shape(tuple(inp.shape[1:]), str(path))
        self.num_outputs = int(self.session.get_outputs()[0].shape[-1])
        self.metadata = read_metadata(path)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self._name: np.ascontiguousarray(x, np.float32)})[0], np.float32)


def fixed_shape(shape, where: str) -> tuple[int, int, int]:
    """``shape`` as ``(H, W, C)`` ints; a ``ValueError`` naming ``where`` when a size is unknown."""
    if len(shape) != 3 or any(not isinstance(d, (int, np.integer)) or d is None or d <= 0 for d in shape):
        raise ValueError(f"{where}: the image input must have a fixed size (H, W, C), got {tuple(shape)}")
    return tuple(int(d) for d in shape)  # type: ignore[return-value]


# --------------------------------------------------------------------------- metadata


def metadata_name(name) -> str:
    """A flatbuffer metadata name (``bytes`` or ``str``) as ``str``."""
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)


def _read_tflite_metadata(data: bytes) -> dict | None:
    try:
        from tensorflow.lite.python import schema_py_generated as schema
    except ImportError:  # a LiteRT-only deployment: fall back to the sidecar file
        return None
    model = schema.Model.GetRootAsModel(data, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if metadata_name(entry.Name()) == METADATA_KEY:
            raw = model.Buffers(entry.Buffer()).DataAsNumpy()
            if isinstance(raw, np.ndarray) and raw.size:
                return json.loads(raw.tobytes().decode("utf-8"))
    return None


def read_metadata(path: str | os.PathLike) -> dict:
    """The ``fer_metadata`` document of an exported ``.tflite`` or ``.onnx`` file (``{}`` when absent).

    Looks inside the file first, then at a sidecar ``<file>.json`` (e.g. ``model.tflite.json``).
    """
    path = Path(path)
    found = None
    if path.suffix == ".tflite":
        found = _read_tflite_metadata(path.read_bytes())
    elif path.suffix == ".onnx":
        try:
            import onnx

            props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
            found = json.loads(props[METADATA_KEY]) if METADATA_KEY in props else None
        except ImportError:
            found = None
    sidecar = path.with_name(path.name + ".json")
    if found is None and sidecar.is_file():
        found = json.loads(sidecar.read_text())
    return found or {}
