"""What a model costs: parameters, FLOPs per face, training images/s, latency and throughput, file size.

Image models, landmark models (input ``landmarks``, FaceMesh points) and the two-input fusion model are
measured alike (:func:`example_inputs` makes inputs of every kind). A model with a ``landmarks`` input
needs FaceMesh on the face crop first: :func:`facemesh_cost` measures that step on its own and
:func:`measure_cost` adds it into an end-to-end latency and throughput, so the comparison with the image
models is fair.

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
    custom ones included; a two-input model (image + landmarks) counts both branches.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    specs = {name: tf.TensorSpec((1, *shape), tf.float32) for name, shape in input_specs(model).items()}
    spec = specs if len(specs) > 1 else next(iter(specs.values()))
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


#: name of the input layer of the models that take FaceMesh points (:data:`fer.landmarks.data.LANDMARK_INPUT`)
LANDMARK_INPUT = "landmarks"


def input_specs(model: keras.Model) -> dict[str, tuple[int, ...]]:
    """Input name → shape of one sample, for each input of ``model`` (one for most models, two for fusion)."""
    return {t.name.split(":")[0]: tuple(int(d) for d in t.shape[1:]) for t in model.inputs}


def example_inputs(model: keras.Model, n: int, seed: int = 0):
    """``n`` random samples for every input of ``model``: pixels in ``[0, 255]`` for an image input, normalised
    coordinates (about unit scale) for a ``landmarks`` input; one array for a one-input model, else a dict by name."""
    rng = np.random.default_rng(seed)
    arrays = {name: (rng.normal(0.0, 0.5, (n, *shape)) if name == LANDMARK_INPUT
                     else rng.uniform(0, 255, (n, *shape))).astype("float32")
              for name, shape in input_specs(model).items()}
    return arrays if len(arrays) > 1 else next(iter(arrays.values()))


def needs_facemesh(model: keras.Model) -> bool:
    """True when ``model`` takes FaceMesh landmarks (a landmark or fusion model): FaceMesh runs before it."""
    return LANDMARK_INPUT in input_specs(model)


def inference_speed(model: keras.Model, seconds: float = 2.0) -> dict:
    """Latency of one face (ms, batch 1) and throughput at batch 256 (faces/s) of a compiled forward pass."""
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    one, many = (tf.nest.map_structure(tf.constant, example_inputs(model, n)) for n in (1, 256))
    latency = median_seconds(lambda: forward(one).numpy(), seconds)
    batch = median_seconds(lambda: forward(many).numpy(), seconds, min_runs=3)
    return {"latency_batch1_ms": 1000 * latency, "throughput_batch256": 256 / batch}


def training_speed(build: Callable[[], keras.Model], batch_size: int = 64, seconds: float = 4.0) -> float:
    """Training images/s of a freshly built model (Adam, cross-entropy) on random faces at ``batch_size``.

    ``build`` returns a new, uncompiled model of the architecture; the trained model is not touched. A landmark
    model trains on landmarks extracted once and cached, so FaceMesh is not part of this speed.
    """
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    x = example_inputs(model, batch_size)
    y = keras.utils.to_categorical(np.arange(batch_size) % model.output_shape[-1], model.output_shape[-1])
    step = median_seconds(lambda: model.train_on_batch(x, y), seconds, min_runs=3)
    return batch_size / step


def facemesh_cost(crop_shape: tuple[int, ...] = (48, 48, 1), seconds: float = 2.0) -> dict:
    """What the landmark step costs before a landmark model can run: FaceMesh and normalisation per face crop.

    Latency: one ``crop_shape`` crop at a time (margin, resize to 192x192, FaceMesh, normalisation) on one
    interpreter with 2 threads, batch 1. Throughput: 256 crops at once with the batch-extraction settings of
    :func:`fer.landmarks.facemesh.extract_landmarks` (2 interpreters, batch 8). The speed does not depend on
    the crop's content (random pixels here).

    Returns:
        ``latency_batch1_ms``, ``throughput_batch256``, ``crop_shape`` and the FaceMesh ``settings``.
    """
    from fer.landmarks.facemesh import DEFAULT_MARGIN, FaceMesh
    from fer.landmarks.geometry import normalize_landmarks

    faces = np.random.default_rng(0).integers(0, 256, (256, *crop_shape), dtype=np.uint8)
    single, batched = FaceMesh(workers=1, num_threads=2, batch_size=1), FaceMesh(workers=2, num_threads=1,
                                                                                  batch_size=8)
    try:
        latency = median_seconds(lambda: normalize_landmarks(single(faces[:1], DEFAULT_MARGIN)[0]), seconds)
        batch = median_seconds(lambda: normalize_landmarks(batched(faces, DEFAULT_MARGIN)[0]), seconds, min_runs=3,
                               warmup=1)
    finally:
        single.close()
        batched.close()
    return {"latency_batch1_ms": 1000 * latency, "throughput_batch256": 256 / batch, "crop_shape": list(crop_shape),
            "margin": DEFAULT_MARGIN, "settings": {"batch1": "1 interpreter, 2 threads, batch 1",
                                                   "batch256": "2 interpreters, 1 thread each, batch 8"}}


def machine() -> dict:
    """The CPU count and load average at measuring time (a busy machine measures slower)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpu_count": os.cpu_count(), "load_average_1m": load[0], "load_average_5m": load[1]}


def measure_cost(model: keras.Model, model_file: str | os.PathLike | None = None,
                 build: Callable[[], keras.Model] | None = None, seconds: float = 2.0,
                 crop_shape: tuple[int, ...] = (48, 48, 1)) -> dict:
    """Parameters, FLOPs per face, inference latency / throughput and (given) training speed and file size.

    Args:
        model: the trained classifier (image, landmark or image + landmark inputs).
        model_file: its ``.keras`` file, for the size in bytes.
        build: a function returning a fresh model of the same architecture, for the training speed
            (skipped when ``None``).
        seconds: time spent on each timing.
        crop_shape: the face crop FaceMesh gets for a model with a ``landmarks`` input (FER2013's 48x48 gray).

    Returns:
        ``params``, ``flops_per_face`` (the model's own, FaceMesh not included), ``latency_batch1_ms``,
        ``throughput_batch256`` (the model alone), ``facemesh`` (:func:`facemesh_cost`; ``None`` for an image
        model), ``end_to_end_latency_batch1_ms`` / ``end_to_end_throughput_batch256`` (FaceMesh then the model,
        one after the other on the same CPU; the model's own numbers for an image model), optionally
        ``train_images_per_s`` and ``file_bytes``, and ``machine`` (:func:`machine`, read before timing).
    """
    result: dict = {"machine": machine(), "params": int(model.count_params()), "flops_per_face": count_flops(model)}
    result.update(inference_speed(model, seconds))
    mesh = facemesh_cost(crop_shape, seconds) if needs_facemesh(model) else None
    result["facemesh"] = mesh
    result.update(end_to_end(result, mesh))
    if build is not None:
        result["train_images_per_s"] = training_speed(build, seconds=2 * seconds)
    if model_file is not None:
        result["file_bytes"] = Path(model_file).stat().st_size
    return result


def end_to_end(model_cost: dict, mesh: dict | None) -> dict:
    """Latency and throughput of FaceMesh (``mesh``, from :func:`facemesh_cost`) followed by the model
    (``model_cost``): latencies add, throughputs combine as ``1 / (1 / a + 1 / b)``; without ``mesh``, the model's."""
    latency, rate = model_cost["latency_batch1_ms"], model_cost["throughput_batch256"]
    if mesh is not None:
        latency += mesh["latency_batch1_ms"]
        rate = 1.0 / (1.0 / rate + 1.0 / mesh["throughput_batch256"])
    return {"end_to_end_latency_batch1_ms": latency, "end_to_end_throughput_batch256": rate}
