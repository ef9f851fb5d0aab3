"""fer.bench_inference: the benchmark runs end to end on a tiny model and reports every measurement."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from fer.benchmarks.inference import benchmark, demo_frame
from fer.cli import main
from fer.inference import Classifier, detect_faces, haar_available


def _tiny() -> keras.Model:
    inputs = keras.Input((48, 48, 1), name="image")
    x = layers.Flatten()(layers.Rescaling(1 / 255.0)(inputs))
    outputs = layers.Activation("softmax", dtype="float32", name="predictions")(layers.Dense(7)(x))
    return keras.Model(inputs, outputs)


def test_demo_frame_holds_one_face():
    frame = demo_frame()
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert len(detect_faces(frame)) == 1


def test_benchmark_reports_positive_numbers():
    results = benchmark(Classifier.from_keras(_tiny()), seconds=0.01)
    expected = {"keras_batch256_faces_per_s", "keras_batch1_ms_per_face", "detect_640x480_ms", "pipeline_640x480_fps",
                "keras_frozen_batch1_ms_per_face", "pipeline_640x480_frozen_fps"}  # frozen: the webcam's graph
    if haar_available():  # the Haar fallback is timed next to the default YuNet where OpenCV ships the cascades
        expected.add("haar_detect_640x480_ms")
    assert set(results) == expected
    assert all(np.isfinite(v) and v > 0 for v in results.values())


def test_cli_needs_a_model(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "inference", "--model", str(tmp_path / "none.keras"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "not found" in err and "--untrained" in err and not out.exists()
