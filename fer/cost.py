"""What a model costs: parameters, FLOPs per face, training images/s, latency and throughput, file size.

:func:`measure_cost` is what the architecture study records beside each accuracy, so a reader can weigh a
point of accuracy against milliseconds and megabytes on their own CPU::

    from fer.cost import measure_cost
    cost = measure_cost(keras.saving.load_model("models/fer2013_default.keras"))
    cost["flops_per_face"], cost["latency_batch1_ms"], cost["throughput_batch256"]

Timings are medians of repeated calls after warm-up; they depend on the machine and on what else runs
on it, so the result records the CPU count and the load average next to the numbers.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np


def count_flops(model: keras.Model) -> int:
    """Floating-point operations of one forward pass on one face (a multiply-add counts as 2).

    Counted by TensorFlow's profiler on the frozen inference graph at batch 1, so every layer counts,
    custom ones included.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(concrete)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(frozen.graph.as_graph_def(), name="")
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        profile = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op",
                                                options=options)
    return int(profile.total_float_ops)


def median_seconds(fn: Callable[[], object], seconds: float = 2.0, min_runs: int = 5, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` over at least ``min_runs`` calls filling about ``seconds``."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _random_faces(shape: tuple[int, ...], n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, *shape)).astype("float32")


def inference_speed(model: keras.Model, seconds: float = 2.0) -> dict:
    """Latency of one face (ms, batch 1) and throughput at batch 256 (faces/s) of a compiled forward pass."""
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    shape = tuple(model.input_shape[1:])
    one, many = tf.constant(_random_faces(shape, 1)), tf.constant(_random_faces(shape, 256))
    latency = median_seconds(lambda: forward(one).numpy(), seconds)
    batch = median_seconds(lambda: forward(many).numpy(), seconds, min_runs=3)
    return {"latency_batch1_ms": 1000 * latency, "throughput_batch256": 256 / batch}


def training_speed(build: Callable[[], keras.Model], batch_size: int = 64, seconds: float = 4.0) -> float:
    """Training images/s of a freshly built model (Adam, cross-entropy) on random faces at ``batch_size``.

    ``build`` returns a new, uncompiled model of the architecture; the trained model is not touched.
    """
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    x = _random_faces(tuple(model.input_shape[1:]), batch_size)
    y = keras.utils.to_categorical(np.arange(batch_size) % model.output_shape[-1], model.output_shape[-1])
    step = median_seconds(lambda: model.train_on_batch(x, y), seconds, min_runs=3)
    return batch_size / step


def machine() -> dict:
    """The CPU count and load average at measuring time (a busy machine measures slower)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpu_count": os.cpu_count(), "load_average_1m": load[0], "load_average_5m": load[1]}


def measure_cost(model: keras.Model, model_file: str | os.PathLike | None = None,
                 build: Callable[[], keras.Model] | None = None, seconds: float = 2.0) -> dict:
    """Parameters, FLOPs per face, inference latency / throughput and (given) training speed and file size.

    Args:
        model: the trained classifier.
        model_file: its ``.keras`` file, for the size in bytes.
        build: a function returning a fresh model of the same architecture, for the training speed
            (skipped when ``None``).
        seconds: time spent on each timing.

    Returns:
        ``params``, ``flops_per_face``, ``latency_batch1_ms``, ``throughput_batch256``, optionally
        ``train_images_per_s`` and ``file_bytes``, and ``machine`` (:func:`machine`, read before timing).
    """
    result: dict = {"machine": machine(), "params": int(model.count_params()), "flops_per_face": count_flops(model)}
    result.update(inference_speed(model, seconds))
    if build is not None:
        result["train_images_per_s"] = training_speed(build, seconds=2 * seconds)
    if model_file is not None:
        result["file_bytes"] = Path(model_file).stat().st_size
    return result
