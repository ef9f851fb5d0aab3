"""Input-pipeline speed: ``python -m fer bench data [--images N] [--out results/bench_data.json]``.

Measures, side by side in one run and on the same faces, how many augmented training batches per
second each input pipeline produces at 48x48x1 (the FER2013 models) and 224x224x3 (the ImageNet
backbones):

* ``fer_sequence_workers1`` / ``fer_sequence_workers2``: :class:`fer.data.pipeline.FERSequence` with
  1 or 2 worker threads, pulled through Keras' ``PyDatasetAdapter.get_tf_dataset()`` (exactly what
  ``model.fit`` does with it on the TensorFlow backend);
* ``tf_data``: :func:`fer.data.pipeline.tf_dataset`, the tf.data version of the same batches;
* ``image_data_generator``: the legacy Keras 2 ``ImageDataGenerator.flow_from_directory`` (package
  ``tf_keras``; Keras 3 has no ImageDataGenerator) on the same faces written as a Kaggle-style folder
  tree (:func:`fer.data.write_image_folders`) in a temporary folder;
* ``keras3_image_dataset``: Keras 3's ``keras.utils.image_dataset_from_directory`` on the same folder
  tree followed by the equivalent augmentation layers (``RandomFlip("horizontal")``,
  ``RandomRotation``, ``RandomTranslation``, ``RandomZoom``, ``RandomBrightness``) in a parallel ``map``.

Every peer uses the same augmentation: rotation ±15°, shift 10%, zoom 10%, horizontal flip,
brightness ±20% (no vertical flip, no shear); borders are mirrored. Each peer is warmed up (graph
tracing, worker start-up, file caches) before a fixed number of batches is timed; batches are pulled
by an empty loop (no model), so the numbers are input-pipeline throughput only. The report records
the speed-up of each peer over ImageDataGenerator and the targets: ≥ 5x ImageDataGenerator and
≥ 5,000 augmented images/s at 48x48, checked on the fastest project pipeline.

Faces: a random sample of the real FER2013 training faces when the CSV is found
(:func:`fer.data.sources.find_dataset`), else synthetic faces; the report says which. Run it on an
otherwise idle machine: the JSON records the load average before and after.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import fer  # noqa: E402
from fer.data.atomic import write_json  # noqa: E402
from fer.data.dataset import Dataset  # noqa: E402
from fer.data.pipeline import Augment, FERSequence, tf_dataset  # noqa: E402
from fer.environment import load_average, machine, versions  # noqa: E402
from fer.provenance import command_line  # noqa: E402

RESULTS = Path(fer.__file__).resolve().parents[1] / "results" / "bench_data.json"

#: The augmentation every peer applies (FERSequence / tf.data take it as is; the others are translated).
AUGMENT = Augment(rotation=15.0, shift=0.10, zoom=0.10, flip=True, brightness=0.2, contrast=0.0, erase=0.0)

#: Peers in report order; ``image_data_generator`` is the baseline of every speed-up.
PEERS: tuple[str, ...] = ("fer_sequence_workers1", "fer_sequence_workers2", "tf_data",
                          "image_data_generator", "keras3_image_dataset")
#: The project's own pipelines (the targets are checked on the fastest of them).
PROJECT_PEERS: tuple[str, ...] = ("fer_sequence_workers1", "fer_sequence_workers2", "tf_data")
BASELINE = "image_data_generator"
SHAPES: tuple[tuple[int, int, int], ...] = ((48, 48, 1), (224, 224, 3))
TARGET_SPEEDUP = 5.0
TARGET_IMAGES_PER_S_48 = 5000.0

INSTALL_HINT = ("The ImageDataGenerator baseline needs the legacy Keras 2 package tf_keras (Keras 3 removed "
                "ImageDataGenerator). Install the benchmark extra: pip install -e .[bench] "
                "(tf-keras of the same minor version as TensorFlow), or leave the peer out with "
                "--peers.")


def require_tf_keras():
    """Import ``tf_keras`` or raise an ImportError that says how to install it."""
    try:
        import tf_keras
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return tf_keras


# ------------------------------------------------------------------------------------------------
# The faces
# ------------------------------------------------------------------------------------------------

def bench_faces(n: int = 2000, data: str = "auto", seed: int = 0) -> tuple[Dataset, str]:
    """``n`` training faces (all in split ``"train"``) and a sentence saying where they come from.

    Args:
        n: number of faces.
        data: ``"auto"`` (real FER2013 when found, else synthetic), ``"fer2013"`` (real, or an error),
            ``"synthetic"``, or a path to a fer2013.csv(.gz).
        seed: seed of the sample / the synthetic faces.
    """
    if n < 1:
        raise ValueError(f"--images must be >= 1, got {n}")
    path: Path | None = None
    if data in ("auto", "fer2013"):
        from fer.data.sources import find_dataset

        path = find_dataset("fer2013")
        if path is None and data == "fer2013":
            raise FileNotFoundError("FER2013 not found (see data/README.md); use --data synthetic")
    elif data != "synthetic":
        path = Path(data)
        if not path.is_file():
            raise FileNotFoundError(f"--data {data!r}: no such file; give a fer2013.csv(.gz), 'auto' or 'synthetic'")
    if path is not None:
        from fer.data import load_fer2013_csv

        train = load_fer2013_csv(path).subset("train")
        rows = np.random.default_rng(seed).choice(len(train), size=min(n, len(train)), replace=False)
        faces = train.select(np.sort(rows))
        where = "/".join(path.parts[-2:])
        text = f"FER2013 ({where}, Training rows): uniform random sample of {len(faces)} faces, seed {seed}"
        return faces, text
    from fer.data.synthetic import make_synthetic

    per_class = math.ceil(n / 7)
    faces = make_synthetic(n_per_class=per_class, size=48, seed=seed, splits=(1.0, 0.0, 0.0))
    faces = faces.select(np.arange(len(faces)) < n)
    return faces, f"synthetic faces (fer.data.make_synthetic, 48x48, seed {seed}): {len(faces)} faces"


# ------------------------------------------------------------------------------------------------
# Peers: each returns an endless iterator of (x, y) batches
# ------------------------------------------------------------------------------------------------

def _fer_sequence_stream(ds: Dataset, shape, batch_size: int, seed: int, workers: int) -> Iterator:
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    seq = FERSequence(ds, "train", shape, batch_size, augment=AUGMENT, seed=seed, workers=workers)
    adapter = PyDatasetAdapter(seq, shuffle=False)
    batches = adapter.get_tf_dataset()
    try:
        while True:
            adapter.on_epoch_begin()
            yield from batches
            adapter.on_epoch_end()
    finally:
        if adapter.enqueuer is not None:
            adapter.enqueuer.stop()


def _tf_data_stream(ds: Dataset, shape, batch_size: int, seed: int) -> Iterator:
    yield from tf_dataset(ds, "train", shape, batch_size, augment=AUGMENT, seed=seed, repeat=True)


def _image_data_generator_stream(folder: Path, classes, shape, batch_size: int, seed: int) -> Iterator:
    tf_keras = require_tf_keras()
    gen = tf_keras.preprocessing.image.ImageDataGenerator(
        rotation_range=AUGMENT.rotation, width_shift_range=AUGMENT.shift, height_shift_range=AUGMENT.shift,
        zoom_range=AUGMENT.zoom, horizontal_flip=AUGMENT.flip,
        brightness_range=(1.0 - AUGMENT.brightness, 1.0 + AUGMENT.brightness), fill_mode="reflect")
    it = gen.flow_from_directory(
        str(folder), target_size=shape[:2], color_mode="grayscale" if shape[2] == 1 else "rgb",
        classes=list(classes), class_mode="categorical", batch_size=batch_size, shuffle=True, seed=seed)
    while True:
        with warnings.catch_warnings():  # tf_keras calls a deprecated scipy.ndimage namespace
            warnings.simplefilter("ignore", DeprecationWarning)
            batch = next(it)
        yield batch


def keras3_augmentation(seed: int = 0):
    """Keras 3 preprocessing layers with the :data:`AUGMENT` settings (a ``keras.layers.Pipeline``)."""
    import keras

    layers = keras.layers
    return layers.Pipeline([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(AUGMENT.rotation / 360.0, fill_mode="reflect", seed=seed + 1),
        layers.RandomTranslation(AUGMENT.shift, AUGMENT.shift, fill_mode="reflect", seed=seed + 2),
        layers.RandomZoom((-AUGMENT.zoom, AUGMENT.zoom), fill_mode="reflect", seed=seed + 3),
        layers.RandomBrightness(AUGMENT.brightness, value_range=(0, 255), seed=seed + 4),
    ])


def _keras3_stream(folder: Path, classes, shape, batch_size: int, seed: int) -> Iterator:
    import keras
    import tensorflow as tf

    batches = keras.utils.image_dataset_from_directory(
        str(folder), labels="inferred", label_mode="categorical", class_names=list(classes),
        color_mode="grayscale" if shape[2] == 1 else "rgb", batch_size=batch_size, image_size=shape[:2],
        shuffle=True, seed=seed, verbose=False)
    augment = keras3_augmentation(seed)
    batches = batches.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    batches = batches.prefetch(tf.data.AUTOTUNE)
    while True:
        yield from batches


def time_stream(stream: Iterator, batches: int, warmup: int) -> dict:
    """Pull ``warmup`` batches, then time ``batches`` more; images/s and batches/s."""
    for _ in range(warmup):
        next(stream)
    images = 0
    start = time.perf_counter()
    for _ in range(batches):
        x = next(stream)[0]
        images += int(x.shape[0])
    seconds = time.perf_counter() - start
    return {"images_per_s": round(images / seconds, 1), "batches_per_s": round(batches / seconds, 2),
            "seconds": round(seconds, 3), "batches": batches, "images": images}


# ------------------------------------------------------------------------------------------------
# The benchmark
# ------------------------------------------------------------------------------------------------

def benchmark(ds: Dataset, *, peers: Sequence[str] = PEERS, shapes: Sequence[tuple[int, int, int]] = SHAPES,
              batch_size: int = 64, batches: int = 30, warmup: int = 5, seed: int = 0,
              log: Callable[[str], None] | None = print) -> dict:
    """Time every peer at every shape on the faces of ``ds`` (all rows; written to an image folder tree
    in a temporary folder for the folder-reading peers). Returns ``{shape: {peer: measurement}}``.

    Args:
        ds: the faces (any splits; all rows are used as training faces).
        peers: names from :data:`PEERS`.
        shapes: model input shapes ``(H, W, C)``.
        batch_size: faces per batch.
        batches: timed batches per peer and shape.
        warmup: untimed batches first.
        seed: shuffling / augmentation seed.
        log: progress printer (``None`` for silence).

    Raises:
        ValueError: unknown peer names or bad counts.
        ImportError: ``image_data_generator`` requested without ``tf_keras`` (says how to install it).
    """
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise ValueError(f"unknown peers {unknown}; choose from {list(PEERS)}")
    if batches < 1 or warmup < 0 or batch_size < 1:
        raise ValueError(f"need batches >= 1, warmup >= 0, batch_size >= 1; got {batches}, {warmup}, {batch_size}")
    if BASELINE in peers:
        require_tf_keras()
    train = ds.select(np.ones(len(ds), bool))
    train.split = np.full(len(ds), "train")
    log = log or (lambda _msg: None)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="fer_bench_") as tmp:
        tree = None
        if {BASELINE, "keras3_image_dataset"} & set(peers):
            from fer.data.writers import write_image_folders

            tree = write_image_folders(train, Path(tmp) / "faces") / "train"
        for shape in shapes:
            shape = tuple(int(s) for s in shape)
            key = "x".join(map(str, shape))
            row: dict = {}
            for peer in peers:
                stream = _make_stream(peer, train, tree, shape, batch_size, seed)
                try:
                    row[peer] = time_stream(stream, batches, warmup)
                finally:
                    stream.close()
                log(f"{key:>11} {peer:<22} {row[peer]['images_per_s']:>9.1f} images/s "
                    f"{row[peer]['batches_per_s']:>7.2f} batches/s")
            base = row.get(BASELINE, {}).get("images_per_s")
            for m in row.values():
                m["speedup_vs_image_data_generator"] = round(m["images_per_s"] / base, 2) if base else None
            results[key] = row
    return results


def _make_stream(peer: str, ds: Dataset, tree: Path | None, shape, batch_size: int, seed: int) -> Iterator:
    if peer == "fer_sequence_workers1":
        return _fer_sequence_stream(ds, shape, batch_size, seed, workers=1)
    if peer == "fer_sequence_workers2":
        return _fer_sequence_stream(ds, shape, batch_size, seed, workers=2)
    if peer == "tf_data":
        return _tf_data_stream(ds, shape, batch_size, seed)
    if peer == BASELINE:
        return _image_data_generator_stream(tree, ds.classes, shape, batch_size, seed)
    return _keras3_stream(tree, ds.classes, shape, batch_size, seed)


def targets(results: dict) -> list[dict]:
    """The issue's targets, checked on the fastest project pipeline at 48x48x1 (and the speed-up at every shape)."""
    out = []
    for key, row in results.items():
        ours = {p: m for p, m in row.items() if p in PROJECT_PEERS}
        if not ours:
            continue
        best = max(ours, key=lambda p: ours[p]["images_per_s"])
        speedup = ours[best]["speedup_vs_image_data_generator"]
        if speedup is not None:
            out.append({"target": f">= {TARGET_SPEEDUP:g}x ImageDataGenerator at {key} with augmentation",
                        "pipeline": best, "value": speedup, "passed": bool(speedup >= TARGET_SPEEDUP)})
        if key.startswith("48x48x"):
            value = ours[best]["images_per_s"]
            out.append({"target": f">= {TARGET_IMAGES_PER_S_48:g} images/s at {key} with augmentation",
                        "pipeline": best, "value": value, "passed": bool(value >= TARGET_IMAGES_PER_S_48)})
    return out


def tf_data_verdict(results: dict) -> dict:
    """Per shape: tf.data images/s over the best FERSequence, and whether tf.data is the faster one."""
    out = {}
    for key, row in results.items():
        seqs = [row[p]["images_per_s"] for p in ("fer_sequence_workers1", "fer_sequence_workers2") if p in row]
        if "tf_data" in row and seqs:
            ratio = row["tf_data"]["images_per_s"] / max(seqs)
            out[key] = {"tf_data_over_best_fer_sequence": round(ratio, 2), "tf_data_is_faster": bool(ratio > 1.0)}
    return out


def conclusions(report: dict) -> list[str]:
    """Plain sentences generated from the numbers (targets met or missed, is tf.data faster or not)."""
    out = []
    for t in report["targets"]:
        out.append(f"{'PASS' if t['passed'] else 'FAIL'}: {t['target']} - {t['pipeline']} reaches {t['value']:g}")
    for key, v in report["tf_data_vs_fer_sequence"].items():
        ratio = v["tf_data_over_best_fer_sequence"]
        if v["tf_data_is_faster"]:
            out.append(f"{key}: the tf.data path is faster than the best FERSequence ({ratio:g}x its images/s)")
        else:
            out.append(f"{key}: the tf.data path is NOT faster than the best FERSequence on this machine "
                       f"({ratio:g}x its images/s); FERSequence stays the default")
    load = report.get("load_average_before")
    cpus = report["machine"]["cpu_count"] or 1
    if load and max(load[0], (report.get("load_average_after") or load)[0]) > 0.5 * cpus:
        out.append(f"WARNING: the machine was busy (load average {load[0]:g} on {cpus} CPUs before the run); "
                   "the numbers are lower and noisier than on an idle machine")
    return out


def _versions() -> dict:
    return {**versions("python", "tensorflow", "keras", "numpy", "opencv"),
            **versions("tf_keras", "scipy", "pil", missing_ok=True)}


def run_data(images: int = 2000, *, data: str = "auto", peers: Sequence[str] = PEERS,
             shapes: Sequence[tuple[int, int, int]] = SHAPES, batch_size: int = 64, batches: int = 30,
             warmup: int = 5, seed: int = 0, command: str | None = None, out: str | os.PathLike | None = None,
             log: Callable[[str], None] | None = print) -> dict:
    """The whole data benchmark: load the faces, time every peer, return (and optionally write) the report.

    Args:
        images: number of faces (FER2013 sample or synthetic, see :func:`bench_faces`).
        out: JSON file to write atomically (``None``: do not write).
        command: the command line recorded in the report.
        Other arguments: see :func:`benchmark`.
    """
    if BASELINE in peers:
        require_tf_keras()  # fail before the (slow) data loading
    load_before = load_average()
    ds, source = bench_faces(images, data, seed)
    results = benchmark(ds, peers=peers, shapes=shapes, batch_size=batch_size, batches=batches,
                        warmup=warmup, seed=seed, log=log)
    report = {
        "command": command or command_line(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": source,
        "split": "train",
        "images": len(ds),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "versions": _versions(),
        "settings": {
            "batch_size": batch_size, "timed_batches": batches, "warmup_batches": warmup, "seed": seed,
            "augmentation": AUGMENT.to_dict(),
            "augmentation_per_peer": {
                "fer_sequence_*": "fer.data.pipeline.augment_batch (OpenCV warpAffine, reflect-101 borders)",
                "tf_data": "fer.data.pipeline.augment_batch_tf (ImageProjectiveTransformV3, reflect borders)",
                "image_data_generator": "rotation_range=15, width/height_shift_range=0.1, zoom_range=0.1, "
                                        "horizontal_flip, brightness_range=(0.8, 1.2), fill_mode='reflect'",
                "keras3_image_dataset": "RandomFlip('horizontal'), RandomRotation(15/360), "
                                        "RandomTranslation(0.1, 0.1), RandomZoom(0.1), RandomBrightness(0.2) "
                                        "(additive ±0.2*255), fill_mode='reflect'",
            },
            "how": "each peer is pulled by an empty loop (no model): input-pipeline throughput only; FERSequence "
                   "through keras' PyDatasetAdapter.get_tf_dataset() as model.fit does (restarted every epoch); "
                   "tf_data as one endless stream of epochs (tf_dataset(..., repeat=True)); ImageDataGenerator "
                   "with next() on its own single-threaded iterator; the folder peers read PNGs written by "
                   "fer.data.write_image_folders into a temporary folder",
        },
        "results": results,
        "targets": targets(results),
        "tf_data_vs_fer_sequence": tf_data_verdict(results),
    }
    report["conclusions"] = conclusions(report)
    if out is not None:
        write_json(report, out)
    return report


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"48x48x1"`` → ``(48, 48, 1)``: an input shape HxWxC as ``--sizes`` takes it (C is 1 or 3)."""
    try:
        shape = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 3 or shape[2] not in (1, 3) or min(shape) < 1:
        raise ValueError(f"--sizes {text!r}: expected HxWxC with C 1 or 3, e.g. 48x48x1 or 224x224x3")
    return shape  # type: ignore[return-value]
