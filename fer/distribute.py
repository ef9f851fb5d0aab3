"""Data-parallel training on ``tf.distribute``: strategies by name, the chief worker, per-worker run folders.

``python -m fer train --strategy multiworker`` (or ``train(..., strategy="multiworker")``) reads the cluster
from ``TF_CONFIG``, the JSON every worker gets (the same ``cluster``, its own ``task``)::

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'

Every worker runs the same command. Worker 0 (or the ``chief`` task, when the cluster names one) writes the
run folder; the others write a temporary folder they delete when they are done. Each worker reads its own
share of every global batch (``batch_size`` faces per replica, ``batch_size x replicas`` per step), and the
gradients are all-reduced, so every worker ends with the same weights. A killed worker stops the others;
run the same commands again and training resumes from the last checkpoint (``TrainConfig.backup_steps``).
The run folder has to be on a file system every worker sees (it is read on resume).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fer.errors import UsageError
from fer.run_folder import RunFolder

#: Strategy names accepted by :func:`get_strategy` (``TrainConfig.strategy``, ``--strategy``).
STRATEGIES = ("mirrored", "multiworker", "tpu")


def get_strategy(strategy=None):
    """A ``tf.distribute.Strategy`` for ``strategy``: ``None`` → ``None`` (no strategy), a Strategy → itself,
    ``"mirrored"`` → MirroredStrategy (every GPU here), ``"multiworker"`` → MultiWorkerMirroredStrategy (the
    cluster in ``TF_CONFIG``), ``"tpu"`` → TPUStrategy (the TPU named by ``TPU_NAME``, or the local/Colab one).

    Raises:
        UsageError: an unknown name, ``"multiworker"`` without a ``TF_CONFIG`` that names the workers, or a
            strategy on another Keras backend than TensorFlow (they are ``tf.distribute`` strategies).
    """
    if strategy is None or not isinstance(strategy, str):
        return strategy
    import keras

    if strategy in STRATEGIES and keras.backend.backend() != "tensorflow":
        raise UsageError(f"strategy={strategy!r} (--strategy) is a TensorFlow strategy, but Keras runs on "
                         f"{keras.backend.backend()!r} (KERAS_BACKEND): set KERAS_BACKEND=tensorflow, or leave "
                         "--strategy out (JAX computes on its first device)")
    import tensorflow as tf

    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if strategy == "multiworker":
        cluster_spec()  # one clear line when TF_CONFIG is missing or malformed
        return tf.distribute.MultiWorkerMirroredStrategy()
    if strategy == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise UsageError(f"strategy={strategy!r} (--strategy): choose one of {STRATEGIES}")


def cluster_spec() -> dict:
    """``TF_CONFIG`` parsed: ``{"cluster": {...}, "task": {"type": ..., "index": ...}}``.

    Raises:
        UsageError: ``TF_CONFIG`` is unset, not JSON, or names no workers.
    """
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        raise UsageError("strategy='multiworker' (--strategy multiworker) needs TF_CONFIG, e.g. "
                         "TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, "
                         "\"task\": {\"type\": \"worker\", \"index\": 0}}' "
                         "(README: Several GPUs, several machines, a TPU)")
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"TF_CONFIG is not valid JSON ({exc}); "
                         "see README: Several GPUs, several machines, a TPU") from None
    if not isinstance(spec, dict) or not (spec.get("cluster") or {}).get("worker") and \
            not (spec.get("cluster") or {}).get("chief"):
        raise UsageError("TF_CONFIG names no workers: give {\"cluster\": {\"worker\": [\"host:port\", ...]}, "
                         "\"task\": {\"type\": \"worker\", \"index\": N}}")
    return spec


def num_workers(strategy) -> int:
    """How many worker processes train together (1 without a multi-worker strategy)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not hasattr(resolver, "cluster_spec"):
        return 1
    jobs = resolver.cluster_spec().as_dict()
    return max(1, sum(len(jobs.get(job, [])) for job in ("chief", "worker")))


def is_chief(strategy) -> bool:
    """True for the process that writes the run folder: the only one, the ``chief`` task, or worker 0 of a
    cluster without a chief."""
    if num_workers(strategy) == 1:
        return True
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief" or task_type is None:
        return True
    has_chief = bool(resolver.cluster_spec().as_dict().get("chief"))
    return task_type == "worker" and task_id == 0 and not has_chief


#: what a worker copies from the chief's run folder to resume with it
RESUME_FILES = RunFolder.RESUME_FILES


@contextlib.contextmanager
def run_folder(out: str | os.PathLike, strategy, resume: bool = False) -> Iterator[Path]:
    """The folder this worker writes the run into: ``out`` on the chief; on another worker a temporary folder
    (deleted at the end, whether training ends or fails) that, with ``resume``, starts with the chief's
    checkpoint and history (:data:`RESUME_FILES`), so every worker resumes from the same state."""
    out = Path(out)
    if is_chief(strategy):
        yield out
        return
    resolver = strategy.cluster_resolver
    tmp = Path(tempfile.mkdtemp(prefix=f"fer-{resolver.task_type}{resolver.task_id}-"))
    try:
        mine = tmp / out.name
        mine.mkdir()
        for name in RESUME_FILES if resume else ():
            # nothing here changes while the workers start: the chief writes them only after a step they share
            if (out / name).is_dir():
                shutil.copytree(out / name, mine / name)
            elif (out / name).is_file():
                shutil.copy2(out / name, mine / name)
        yield mine
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def synchronize_batchnorm(model) -> int:
    """Make every BatchNormalization layer of ``model`` (nested models included) compute its batch statistics
    over the global batch (all replicas) instead of each replica's share; returns how many layers.

    Then a step of N replicas x B faces normalises like one process with N*B faces, and the moving averages
    stay the same on every worker (Keras' BatchNormalization keeps an unsynchronised copy per replica
    otherwise). Only the training model changes: the saved classifier is rebuilt with plain layers.
    """
    import keras

    count = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized:
            layer.synchronized = True
            count += 1
    return count


def fix_keras_multi_worker(model, strategy) -> None:
    """Work around two failures of Keras 3's ``fit`` under MultiWorkerMirroredStrategy (Keras 3.15, TF 2.21).

    1. Before the first step Keras builds the metrics and optimizer from one batch, made by
       ``strategy.reduce("MEAN", batch)``, which fails there (``ValueError: Attempt to convert a value
       (PerReplica:{...}) with an unsupported type (PerReplica) to a Tensor``). ``model`` builds from this
       worker's own share of the batch instead (only its shapes matter).
    2. Every step it averages the logs (loss, metrics) over the workers with ``strategy.reduce("MEAN", value,
       axis=0)``, which fails for a scalar (``Invalid reduction dimension 0 for input with 0 dimensions``);
       scalars are averaged with ``axis=None`` instead (each worker's value is the mean over its equal share of
       the global batch, so their mean is the global mean).

    Nothing changes for other strategies or without one.
    """
    if strategy is None:
        return
    import keras
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    _patch_reduce_per_replica()
    original = model._maybe_symbolic_build

    def local(x):
        return strategy.experimental_local_results(x)[0] if isinstance(x, tf.distribute.DistributedValues) else x

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None and data_batch is None:
            for _, _, it in iterator:  # as Keras does: peek at the first batch of the epoch iterator
                data_batch = keras.tree.map_structure(local, next(it))
                break
        return original(iterator=None, data_batch=data_batch)

    model._maybe_symbolic_build = maybe_symbolic_build


def _patch_reduce_per_replica() -> None:
    """Keras' per-step log reduction, with scalars averaged over the workers by ``axis=None`` (see above)."""
    import keras
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "fer_patched", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return original(values, strategy, reduction)

        def one(v):
            first = strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v
            if getattr(first, "shape", None) is not None and first.shape.rank == 0:
                return strategy.reduce("MEAN", v, axis=None)
            return original(v, strategy, reduction)

        return keras.tree.map_structure(one, values)

    reduce_per_replica.fer_patched = True
    trainer.reduce_per_replica = reduce_per_replica


def backup_frequency(steps: int = 0):
    """``save_freq`` of the resume checkpoint: every ``steps`` training steps, or every epoch when 0."""
    return int(steps) if steps and steps > 0 else "epoch"


def distribute_batches(batches, strategy):
    """``batches`` (a ``keras.utils.PyDataset`` of *global* batches) as a ``tf.data.Dataset`` that ``strategy``
    splits; without a strategy, ``batches`` itself.

    Keras hands the dataset to ``strategy.experimental_distribute_dataset``, which gives each replica
    ``1/replicas`` of every batch; across workers it is sharded by data (``AutoShardPolicy.DATA``): every
    worker makes the same batches (same seed, same epoch) and keeps its own share, so a step sees each face of
    the global batch once. Pass :class:`NextEpoch` ``(batches)`` to ``fit`` as well: it moves the sequence on to
    its next epoch (reshuffled, re-augmented) at every epoch end, as Keras does for a PyDataset. A last batch
    with fewer faces than replicas is left out (it cannot be split).

    The explicit DATA policy matters: the sequence is a Python generator, so there are no files to shard by.
    (The ``PerReplica`` error a multi-worker ``fit`` raised comes from Keras' first-batch build, not from the
    data; :func:`fix_keras_multi_worker` handles it.)
    """
    if strategy is None:
        return batches
    import tensorflow as tf

    n = len(batches)
    if n > 1 and len(_first_array(batches[n - 1])) < strategy.num_replicas_in_sync:
        n -= 1

    def generate():  # the sequence's current epoch (NextEpoch moves it on)
        for i in range(n):
            yield batches[i]

    dataset = tf.data.Dataset.from_generator(generate, output_signature=_spec(batches[0]))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(n))  # Keras knows the steps per epoch
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    return dataset.with_options(options)


def NextEpoch(batches):  # a callback class, built lazily so that importing this module needs no Keras
    """A Keras callback that calls ``batches.on_epoch_end()`` at every epoch end, as Keras does for a PyDataset it
    is given directly: the :func:`distribute_batches` pipeline then reshuffles and re-augments every epoch.

    Keras also shuffles the order of a PyDataset's batches every epoch (``fit(shuffle=True)``, Python's
    ``random``); the pipeline keeps the sequence's order (its faces are already shuffled every epoch), so a
    distributed run sees the same global batches as a one-replica run of the pipeline, step for step, and
    statistically the same as a run without a strategy.
    """
    import keras

    class _NextEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            batches.on_epoch_end()

    return _NextEpoch()


def _first_array(batch):
    """The first array of a batch ``(x, y[, w])`` (``x`` may be a dict): its length is the batch size."""
    while isinstance(batch, (tuple, list, dict)):
        batch = next(iter(batch.values())) if isinstance(batch, dict) else batch[0]
    return batch


def _spec(batch):
    """The ``tf.TensorSpec`` structure of one batch (the batch dimension left open: the last batch is smaller)."""
    import tensorflow as tf

    def one(x):
        if isinstance(x, dict):
            return {k: one(v) for k, v in x.items()}
        if isinstance(x, (tuple, list)):
            return tuple(one(v) for v in x)
        x = tf.convert_to_tensor(x)
        return tf.TensorSpec((None, *x.shape[1:]), x.dtype)

    return one(batch)
