"""Inference speed of the default model: ``python -m fer bench inference`` → ``results/bench_inference.json``.

Measures, on this machine's CPU:

* ``keras_batch256_faces_per_s``: 48x48 uint8 face crops through :meth:`Classifier.predict`
  (preprocessing + one compiled ``tf.function`` call per 256 faces);
* ``tflite_batch256_faces_per_s``: the same through the float32 TFLite export;
* ``keras_batch1_ms_per_face`` / ``tflite_batch1_ms_per_face``: latency of one face (median);
* ``detect_640x480_ms``: face detection (the default YuNet) on a 640x480 frame with one face;
* ``haar_detect_640x480_ms``: the same with the Haar fallback (where OpenCV ships the cascades);
* ``pipeline_640x480_fps`` / ``pipeline_640x480_tflite_fps``: detect + align + classify + draw on that frame;
  ``keras_frozen_batch1_ms_per_face`` / ``pipeline_640x480_frozen_fps``: the same with the frozen graph the
  webcam uses (:func:`fer.inference.runtimes.frozen_predict`).

Detection uses the live-video settings of ``python -m fer webcam``
(:data:`fer.inference.detection.LIVE_SETTINGS`).

The frame is the shipped demo photo (``fer/assets/grace_hopper.jpg``) scaled to 400 pixels high and
centred on a 640x480 gray canvas. Run it on an otherwise idle machine: the JSON records the load
average before the run next to the numbers.

``--untrained`` benchmarks a freshly built ``fer_resnet`` (same architecture and cost as the
trained model) when the default model is not there yet; the JSON says so.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

import fer
from fer.environment import load_average, machine, versions
from fer.inference import (
    DEFAULT_MODEL,
    DEMO_IMAGE,
    Classifier,
    detect_and_predict,
    draw_predictions,
    load_classifier,
    load_keras_model,
)
from fer.inference.detection import LIVE_SETTINGS, haar_available, make_detector
from fer.provenance import command_line

RESULTS = Path(fer.__file__).resolve().parents[1] / "results" / "bench_inference.json"


def time_call(fn: Callable[[], object], seconds: float = 3.0, min_runs: int = 5, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in seconds (after ``warmup`` calls; at least ``min_runs`` runs)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    end = time.perf_counter() + seconds
    while len(times) < min_runs or time.perf_counter() < end:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def demo_frame(width: int = 640, height: int = 480) -> np.ndarray:
    """A BGR ``height x width`` frame with one face: the demo photo, 400 px high, on a gray canvas."""
    photo = cv2.imread(str(DEMO_IMAGE))
    if photo is None:
        raise FileNotFoundError(f"demo photo {DEMO_IMAGE} is missing")
    h = min(400, height)
    w = round(photo.shape[1] * h / photo.shape[0])
    photo = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)
    frame = np.full((height, width, 3), 110, np.uint8)
    y, x = (height - h) // 2, (width - w) // 2
    frame[y:y + h, x:x + w] = photo
    return frame


def benchmark(keras_clf: Classifier, tflite_clf: Classifier | None = None, *, seconds: float = 3.0,
              batch: int = 256) -> dict:
    """All measurements for one Keras classifier (and optionally its TFLite export)."""
    rng = np.random.default_rng(0)
    h, w, _ = keras_clf.input_shape
    faces = rng.integers(0, 256, (batch, h, w), dtype=np.uint8)
    one = faces[:1]
    frame = demo_frame()
    detector = make_detector("yunet", live=True)
    found = detect_and_predict(frame, keras_clf, detector=detector)
    if len(found) != 1:
        raise RuntimeError(f"benchmark frame should hold exactly one detected face, found {len(found)}")

    def pipeline(clf: Classifier) -> Callable[[], object]:
        return lambda: draw_predictions(frame, detect_and_predict(frame, clf, detector=detector), clf.classes)

    out: dict = {}
    t = time_call(lambda: keras_clf.predict(faces, batch_size=batch), seconds)
    out["keras_batch256_faces_per_s"] = round(batch / t, 1)
    out["keras_batch1_ms_per_face"] = round(1000 * time_call(lambda: keras_clf.predict(one), seconds), 3)
    out["detect_640x480_ms"] = round(1000 * time_call(lambda: detector(frame), seconds), 3)
    if haar_available():
        haar = make_detector("haar", live=True)
        out["haar_detect_640x480_ms"] = round(1000 * time_call(lambda: haar(frame), seconds), 3)
    out["pipeline_640x480_fps"] = round(1 / time_call(pipeline(keras_clf), seconds), 2)
    if keras_clf.model is not None:  # the webcam's classifier: the same graph with its weights frozen in
        frozen = Classifier.from_keras(keras_clf.model, keras_clf.classes, freeze=True)
        out["keras_frozen_batch1_ms_per_face"] = round(1000 * time_call(lambda: frozen.predict(one), seconds), 3)
        out["pipeline_640x480_frozen_fps"] = round(1 / time_call(pipeline(frozen), seconds), 2)
    if tflite_clf is not None:
        t = time_call(lambda: tflite_clf.predict(faces, batch_size=batch), seconds)
        out["tflite_batch256_faces_per_s"] = round(batch / t, 1)
        out["tflite_batch1_ms_per_face"] = round(1000 * time_call(lambda: tflite_clf.predict(one), seconds), 3)
        out["pipeline_640x480_tflite_fps"] = round(1 / time_call(pipeline(tflite_clf), seconds), 2)
    return out


def _machine() -> dict:
    return {**machine(), **versions("python", "tensorflow", "keras", "opencv", "numpy"),
            "load_average_before": load_average()}


def run(model: str | None = None, *, untrained: bool = False, seconds: float = 3.0, tflite: bool = True,
        command: str | None = None) -> dict:
    """Benchmark ``model`` (default: the shipped default model) and return the report dict.

    Example:
        >>> report = run(untrained=True, seconds=0.5, tflite=False)  # doctest: +SKIP
        >>> report["results"]["keras_batch256_faces_per_s"]  # doctest: +SKIP
    """
    import keras

    from fer.export import export_tflite
    from fer.models import build

    machine = _machine()
    if untrained:
        keras.utils.set_random_seed(0)
        net = build("fer_resnet", (48, 48, 1))
        source = "untrained fer_resnet (48x48x1), timing only"
    else:
        path = Path(model) if model else DEFAULT_MODEL
        if not path.is_file():
            raise FileNotFoundError(f"model {path} not found; train the default model first, pass --model FILE, "
                                    "or --untrained to time a freshly built fer_resnet")
        if path.suffix != ".keras":
            raise ValueError(f"--model must be a .keras file (its TFLite export is made here), got {path}")
        net = load_keras_model(path)
        source = str(path.relative_to(RESULTS.parents[1]) if path.is_relative_to(RESULTS.parents[1]) else path)
    keras_clf = Classifier.from_keras(net)
    with tempfile.TemporaryDirectory() as tmp:
        tflite_clf = load_classifier(export_tflite(net, Path(tmp) / "bench.tflite")) if tflite else None
        results = benchmark(keras_clf, tflite_clf, seconds=seconds)
    return {
        "command": command or command_line(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": source,
        "trained": not untrained,
        "input_shape": list(keras_clf.input_shape),
        "frame": "fer/assets/grace_hopper.jpg scaled to 400 px high on a 640x480 canvas (one face)",
        "detector": {"name": "yunet", "model": "fer/assets/yunet_s_640_640.onnx", **LIVE_SETTINGS["yunet"],
                     "crop": "aligned, FER2013 framing (fer.inference.alignment.FRAMING)",
                     "haar_fallback": {"cascade": "haarcascade_frontalface_default.xml", "min_face": 40,
                                       **LIVE_SETTINGS["haar"]}},
        "batch": 256,
        "seconds_per_measurement": seconds,
        "machine": machine,
        "results": results,
    }
