"""Fit any model from :mod:`fer.models` on a dataset and write a run folder.

A run folder (:class:`fer.run_folder.RunFolder` names its files) holds everything later steps need:
``config.json``, ``env.json``, ``history.csv`` / ``history.json``, ``best.keras`` (best validation accuracy),
``final.keras`` (last epoch), ``metrics_<split>.json``, ``plots/`` and, written last, ``run.json`` (the run is
finished; the sha256 of the model's weights). Anything that compares models reads run folders, never re-trains.
A run folder never lies: re-running a finished run does nothing (``force=True`` / ``--force`` trains it again),
an interrupted one resumes with ``history.csv`` and ``history.json`` covering every epoch, and arguments are
checked before anything is written.

:func:`train` runs the stages of :mod:`fer.training` in order: plan the run (checks; nothing written) → prepare
it (folder, batches, model) → fit the phases → finish (saved models, evaluation, ``run.json``). This module is
the public face; every name below is importable from here.
"""

from __future__ import annotations

import os
from dataclasses import replace

from fer import distribute
from fer.data.dataset import Dataset
from fer.models.transfer import find_backbone as _backbone_layers  # noqa: F401  (the name tests and notebooks use)
from fer.training.config import (  # noqa: F401
    LOSSES,
    METRICS,
    OPTIMIZERS,
    SCHEDULES,
    Phase,
    TrainConfig,
    check_config,
    check_out_dir,
)
from fer.training.history import EpochLog, history_from_rows, read_history_csv, write_history_csv  # noqa: F401
from fer.training.models import (  # noqa: F401
    build_models,
    embedding_output,
    finish_model,
    init_weights,
    set_trainable as _set_trainable,
    to_float32,
)
from fer.training.optim import WarmupCosine  # noqa: F401
from fer.training.run import Run, environment, finished_run, plan_run, run_state  # noqa: F401
from fer.training.stages import evaluate_run, finish_run, fit_phases, prepare_run

__all__ = ["LOSSES", "METRICS", "OPTIMIZERS", "SCHEDULES", "EpochLog", "Phase", "Run", "TrainConfig", "WarmupCosine",
           "build_models", "check_config", "check_out_dir", "embedding_output", "environment", "evaluate_run",
           "finished_run", "history_from_rows", "init_weights", "read_history_csv", "run_state", "train",
           "write_history_csv"]


def train(ds: Dataset, config: TrainConfig | None = None, out_dir: str | os.PathLike | None = None, *,
          train_split: str = "train", val_split: str | None = "val", strategy=None, verbose: int | str = "auto",
          workers: int = 1, callbacks: list | None = None, evaluate: bool = True, force: bool = False,
          **overrides) -> Run:
    """Train ``config.model`` on ``ds`` and write a run folder.

    Every argument is checked before anything is written (:func:`check_config`, :func:`check_out_dir`).
    What happens then depends on what ``out_dir`` holds (:func:`run_state`): nothing → a new run; an
    interrupted run of the same configuration → it resumes (BackupAndRestore); a finished run of the same
    configuration → nothing is trained, the saved run is returned (``Run.status == "finished"``); a run of
    another configuration → :class:`UsageError` (pass ``force=True`` or another folder).

    Args:
        ds: the dataset (see :mod:`fer.data`).
        config: a :class:`TrainConfig`; keyword ``overrides`` replace its fields
            (``train(ds, model="cbam_5cnn", epochs=5)``).
        out_dir: the run folder; default ``results/runs/<model>-<timestamp>``.
        train_split, val_split: split names; when ``val_split`` is absent from ``ds`` training runs
            without validation (a warning says so) and checkpoints follow the training loss.
        strategy: a ``tf.distribute.Strategy`` (MirroredStrategy, MultiWorkerMirroredStrategy, TPUStrategy)
            or its name (see :mod:`fer.distribute`); default ``config.strategy``. The model and optimizer are
            created in its scope, the batch size is per replica, and with several workers only the chief
            writes ``out_dir`` (the others write a temporary folder they delete).
        verbose: Keras' progress display.
        workers: PyDataset worker threads.
        callbacks: extra Keras callbacks added to every phase.
        evaluate: evaluate the run's model on the val/test splits and write metrics and plots.
        force: start over in ``out_dir`` whatever it holds.

    Returns:
        A :class:`Run`.

    Example:
        >>> from fer.data.sources import load_dataset
        >>> from fer.train import TrainConfig, train
        >>> ds = load_dataset("fer2013.csv.gz")  # doctest: +SKIP
        >>> run = train(ds, TrainConfig(model="fer_resnet", epochs=30), "results/runs/my_run")  # doctest: +SKIP
        >>> run.metrics["val"]["accuracy"], run.out_dir / "model.keras"  # doctest: +SKIP

        Stopped half way (Ctrl-C, a lost machine)? The same call resumes from the last checkpoint.

    Raises:
        UsageError: a bad argument (the message names it and the fix).
        ValueError: the dataset cannot train this configuration (no soft labels, no training split...).
    """
    cfg = replace(config or TrainConfig(), **overrides)
    check_config(cfg)
    plan = plan_run(ds, cfg, out_dir, train_split=train_split, val_split=val_split, strategy=strategy, force=force)
    if plan.state == "finished":
        return finished_run(plan.out, plan.cfg)
    # on a worker other than the chief, folder is a temporary copy (fer.distribute.run_folder)
    with distribute.run_folder(plan.out, plan.strategy, resume=plan.state != "new") as folder:
        training = prepare_run(plan, folder, workers)
        fit_phases(training, verbose, callbacks)
        return finish_run(training, evaluate)
