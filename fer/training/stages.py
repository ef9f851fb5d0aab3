"""The stages of a run after :func:`fer.training.run.plan_run`: :func:`prepare_run` (the folder, seeds, batches,
models, ``config.json``), :func:`fit_phases` (one ``fit`` per phase, resumable) and :func:`finish_run` (the
saved models, the evaluation, ``run.json`` last). :func:`fer.train.train` calls them in that order."""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from dataclasses import dataclass, field

import keras

from fer import distribute
from fer.data.dataset import Dataset
from fer.data.pipeline import Augment, FERSequence, class_weights as balanced_class_weights
from fer.data.sources import resolve_path
from fer.files import save_model
from fer.provenance import command_line, file_sha256, weights_sha256
from fer.run_folder import RunFolder
from fer.training.backup import Backup, Remainder, resume_point
from fer.training.config import Phase, as_list
from fer.training.history import EpochLog, history_from_rows, read_history_csv, write_history_csv
from fer.training.models import build_models, finish_model, init_weights, set_trainable
from fer.training.optim import make_loss, make_metrics, make_optimizer, set_precision
from fer.training.run import Run, RunPlan, environment, read_json, write_stamped_json
from fer.weight_averaging import WeightAverage


@dataclass
class Training:
    """A run between its stages: the plan, the folder this worker writes, the model and its batches."""

    plan: RunPlan
    run: RunFolder
    model: keras.Model
    train_seq: FERSequence
    fit_train: object  # what fit trains on: train_seq, wrapped for ArcFace / distillation / a strategy
    fit_val: object
    fit_train_seq: object  # fit_train before the strategy's tf.data wrapper (moved on by NextEpoch)
    shape: tuple[int, int, int]
    batch: int
    monitor: str
    phases: list[Phase]
    workers: int
    rows: dict[int, dict] = field(default_factory=dict)  # history.csv's epochs, kept by EpochLog
    wall: float = 0.0  # training seconds, across interruptions

    def scope(self):
        """The distribution strategy's scope (nothing without one): models and optimizers are made in it."""
        strategy = self.plan.strategy
        return strategy.scope() if strategy is not None else contextlib.nullcontext()


def prepare_run(plan: RunPlan, folder, workers: int = 1) -> Training:
    """Stage 2: set up the run in ``folder`` (this worker's copy of ``plan.out``): clear a stale folder, seed,
    write ``config.json`` and ``env.json``, make the batches and the model (``init_from`` copied in)."""
    ds, cfg, run = plan.ds, plan.cfg, RunFolder(folder)
    run.root.mkdir(parents=True, exist_ok=True)
    if plan.state == "new":
        clear_run(run)  # a fresh run: nothing from an earlier run in this folder may leak into this one
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic and keras.backend.backend() == "tensorflow":  # JAX: XLA_FLAGS, set before it starts
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    policy = set_precision(cfg.mixed_precision)
    shape = cfg.resolved_shape()
    if plan.val_split is not None and not plan.has_val:
        print(f"[fer.train] split {plan.val_split!r} is not in this dataset (present: {ds.splits()}); "
              "training without validation, checkpoints follow the training loss.", file=sys.stderr)
    augment = Augment(**cfg.augment) if isinstance(cfg.augment, dict) else bool(cfg.augment)
    cw = balanced_class_weights(ds.subset(plan.train_split).labels, ds.num_classes) if cfg.class_weighting else None
    batch = cfg.batch_size * plan.replicas  # the global batch: batch_size faces per replica
    train_seq = FERSequence(ds, plan.train_split, shape, batch, augment=augment, mixup_alpha=cfg.mixup_alpha,
                            labels="soft" if cfg.soft_labels else "onehot", class_weight=cw, seed=cfg.seed,
                            workers=workers)
    val_seq = FERSequence(ds, plan.val_split, shape, 256, workers=workers) if plan.has_val else None

    write_stamped_json(run.config, {**plan.record, "command": command_line(), "precision": policy})
    write_stamped_json(run.env, environment())

    strategy = plan.strategy
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model, _ = build_models(cfg, shape, ds.num_classes)  # the classifier is rebuilt at the end (float32)
        if cfg.init_from:
            fresh = init_weights(model, cfg.init_from)
            print(f"[fer.train] initialised from {cfg.init_from}; new layers: {fresh or 'none'}", file=sys.stderr)
    if plan.replicas > 1:  # batch statistics over the global batch: the same as one process, the same on every worker
        distribute.synchronize_batchnorm(model)
    distribute.fix_keras_multi_worker(model, strategy)
    fit_train, fit_val = train_seq, val_seq
    if cfg.loss == "arcface":  # the margin needs the label as a second input
        from fer.training.losses import ArcFaceBatches

        fit_train, fit_val = ArcFaceBatches(train_seq), (ArcFaceBatches(val_seq) if val_seq is not None else None)
    # the teacher files as check_config found them (a recipe names a shipped model relative to the repository)
    teachers = [str(resolve_path(f)) for f in as_list(cfg.distill_from)] if cfg.distill_from else []
    if teachers and cfg.distill_cache:  # the teacher's answers, once, blended into the targets
        from fer.distill import cached_teacher_predictions, distill_targets

        teacher = cached_teacher_predictions(teachers, train_seq.images, run.teacher_predictions)
        train_seq.y = distill_targets(train_seq.y, teacher, cfg.distill_alpha, cfg.distill_temperature)
    elif teachers:
        from fer.distill import DistillBatches, load_teacher

        fit_train = DistillBatches(fit_train, load_teacher(teachers), cfg.distill_alpha, cfg.distill_temperature)
    fit_train_seq = fit_train
    if strategy is not None:
        fit_train = distribute.distribute_batches(fit_train, strategy)
        fit_val = distribute.distribute_batches(fit_val, strategy) if fit_val is not None else None
    rows = read_history_csv(run.history_csv) if plan.state != "new" else {}  # the epochs before an interruption
    return Training(plan, run, model, train_seq, fit_train, fit_val, fit_train_seq, shape, batch,
                    monitor="val_accuracy" if plan.has_val else "loss",
                    phases=cfg.phases or [Phase(cfg.epochs, cfg.resolved_lr(), -1)], workers=workers, rows=rows)


def fit_phases(t: Training, verbose: int | str = "auto", callbacks: list | None = None) -> None:
    """Stage 3: train every phase not finished yet (a finished one's weights are loaded), each ``fit`` with its
    checkpoint, history log, resume checkpoint and schedule callbacks; sets ``t.wall``."""
    cfg, run, model = t.plan.cfg, t.run, t.model
    earlier_wall = 0.0  # wall time of phases finished before an interruption
    t0 = time.time()
    phases = t.phases
    if t.plan.state == "trained":  # training ended before the interruption: only the final files are missing
        model.load_weights(run.final_weights)
        earlier_wall = float(read_json(run.history_json).get("wall_seconds", 0.0))
        print(f"[fer.train] {run.root}: training had finished before the interruption; writing the final model",
              file=sys.stderr)
        phases = []
    start_epoch = 0
    for p, phase in enumerate(phases):
        end_epoch = start_epoch + phase.epochs
        done = run.phase_done_weights(p)
        if done.is_file():  # finished before an interruption: take its weights, go on
            model.load_weights(done)
            earlier_wall += read_json(run.phase_done_record(p))["wall_seconds"]
            start_epoch = end_epoch
            print(f"[fer.train] phase {p} was finished before the interruption; resuming after it", file=sys.stderr)
            continue
        t_phase = time.time()
        with t.scope():
            if cfg.phases:
                set_trainable(model, phase.trainable_layers)
            model.compile(optimizer=make_optimizer(cfg, phase.lr, len(t.train_seq), phase.epochs, phase.schedule),
                          loss=make_loss(cfg), metrics=make_metrics(cfg, t.plan.ds.num_classes))
        last = p == len(phases) - 1
        first = start_epoch
        cut = resume_point(run.phase_backup(p)) if t.plan.strategy is None else None
        if cut is not None and start_epoch <= cut[0] < end_epoch and cut[1] < len(t.fit_train):
            epoch, done_batches = cut  # cut inside an epoch: train the rest of it, each batch once
            print(f"[fer.train] resuming inside epoch {epoch + 1} after its batch {done_batches} of "
                  f"{len(t.fit_train)}", file=sys.stderr)
            model.fit(Remainder(t.fit_train, done_batches), validation_data=t.fit_val, epochs=epoch + 1,
                      initial_epoch=epoch, verbose=verbose,
                      callbacks=_phase_callbacks(t, p, phase, end_epoch, last, done_batches) + list(callbacks or []))
            first = epoch + 1
        if first < end_epoch:
            model.fit(t.fit_train, validation_data=t.fit_val, epochs=end_epoch, initial_epoch=first,
                      callbacks=_phase_callbacks(t, p, phase, end_epoch, last) + list(callbacks or []),
                      verbose=verbose)  # the caller's callbacks after the built-ins, so they see a saved epoch
        if p < len(phases) - 1:  # a later interruption resumes after this phase, not inside it again
            model.save_weights(done)
            write_stamped_json(run.phase_done_record(p), {"wall_seconds": time.time() - t_phase})
        start_epoch = end_epoch
    t.wall = time.time() - t0 + earlier_wall


def _phase_callbacks(t: Training, p: int, phase: Phase, end_epoch: int, last: bool, done_batches: int = 0) -> list:
    cfg, run, monitor = t.plan.cfg, t.run, t.monitor
    mode = "max" if "acc" in monitor else "min"
    checkpoint = keras.callbacks.ModelCheckpoint(str(run.best_model), monitor=monitor, mode=mode,
                                                 save_best_only=True)
    # order matters: the epoch's row and best.keras are written before its checkpoint, so a run killed
    # in between trains that epoch again (and replaces its row) instead of losing it
    made = [
        EpochLog(run.history_csv, t.rows, checkpoint, monitor),
        checkpoint,
        Backup(run.phase_backup(p), distribute.backup_frequency(cfg.backup_steps), done_before=done_batches),
        keras.callbacks.TerminateOnNaN(),
    ]
    if last and cfg.swa_epochs:
        made.append(WeightAverage(run.swa, start_epoch=end_epoch - cfg.swa_epochs))
    if (phase.schedule or cfg.schedule) == "plateau" and cfg.reduce_lr_patience:
        made.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=cfg.reduce_lr_patience,
                                                      min_lr=1e-6))
    if cfg.early_stopping:
        made.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=cfg.early_stopping, mode=mode,
                                                  restore_best_weights=False))
    if t.plan.strategy is not None:  # fit_train is a tf.data pipeline: move the sequence on to its next epoch
        made.append(distribute.NextEpoch(t.fit_train_seq))
    return made


def finish_run(t: Training, evaluate: bool = True) -> Run:
    """Stage 4: the weight average (SWA), ``history.*``, the float32 ``final.keras`` and ``model.keras`` (BatchNorm
    re-estimated if asked), the evaluation (the chief) and, last, ``run.json``."""
    plan, cfg, run, model, ds = t.plan, t.plan.cfg, t.run, t.model, t.plan.ds
    trained_before = plan.state == "trained"
    if cfg.swa_epochs and not trained_before:
        model.set_weights(WeightAverage.load(run.swa))
        print(f"[fer.train] the model is the average of the weights of the last {cfg.swa_epochs} epochs",
              file=sys.stderr)
    if trained_before:
        history = read_json(run.history_json)
        history.pop("written", None)
    else:
        model.save_weights(run.final_weights)  # first, so nothing after this can lose the trained weights
        history = {**history_from_rows(t.rows), "wall_seconds": t.wall}
        write_history_csv(t.rows, run.history_csv)
        write_stamped_json(run.history_json, history)  # history.csv and history.json: the same epochs, always
        shutil.rmtree(run.backup, ignore_errors=True)  # training is over: nothing left to resume
    clean_faces = FERSequence(ds, plan.train_split, t.shape, t.batch, augment=False, shuffle=True, seed=cfg.seed,
                              workers=t.workers) if cfg.recalibrate_bn or cfg.swa_epochs else None
    final = finish_model(model, cfg, t.shape, ds, clean_faces)
    save_model(final, run.final_model)
    if cfg.keep == "last" or not run.best_model.exists():
        shutil.copyfile(run.final_model, run.model)
        kept = final
    else:
        best = keras.saving.load_model(run.best_model, compile=False)
        kept = finish_model(best, cfg, t.shape, ds, clean_faces)
        save_model(kept, run.model)
    keras.mixed_precision.set_global_policy("float32")
    result = Run(final, history, run.root, cfg)
    if evaluate and plan.chief:
        result.metrics = evaluate_run(run.root, ds, tta=cfg.tta)
    write_stamped_json(run.record, {"status": "finished",
                                    "epochs": len(t.rows) if t.rows else len(history.get("loss", [])),
                                    "model_weights_sha256": weights_sha256(kept),
                                    "final_weights_sha256": weights_sha256(final),
                                    "model_keras_sha256": file_sha256(run.model),
                                    "workers": distribute.num_workers(plan.strategy), "replicas": plan.replicas})
    return result


def clear_run(run: RunFolder) -> None:
    """Delete what an earlier run left in ``run`` (:attr:`RunFolder.STALE_PATTERNS`, ``plots/``, ``backup/``)."""
    for pattern in RunFolder.STALE_PATTERNS:
        for path in run.root.glob(pattern):
            path.unlink()
    shutil.rmtree(run.plots, ignore_errors=True)
    shutil.rmtree(run.backup, ignore_errors=True)


def evaluate_run(out, ds: Dataset, tta: bool = False) -> dict:
    """Evaluate ``out/model.keras`` on every evaluation split of ``ds``; write metrics and plots into the run folder."""
    from fer.evaluate import evaluate, load_model, write_metrics
    from fer.plots import plot_confusion_matrix, plot_history, plot_per_class_f1, save_figure

    run = RunFolder(out)
    model = load_model(run.model)
    results = {}
    for split in [s for s in ("val", "test") if s in ds.splits()]:
        for use_tta in ([False, True] if tta else [False]):
            m = evaluate(model, ds, split=split, tta=use_tta)
            tag = RunFolder.tag(split, use_tta)
            write_metrics(m, run.metrics(split, use_tta))
            results[tag] = m
            save_figure(plot_confusion_matrix(m), run.confusion_plot(tag), close=True)
            save_figure(plot_per_class_f1(m), run.per_class_f1_plot(tag), close=True)
    if run.history_csv.exists():
        save_figure(plot_history(run.history_csv), run.history_plot, close=True)
    return results
