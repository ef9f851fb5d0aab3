"""What a training run is: :class:`TrainConfig` and :class:`Phase`, the names they accept, and the checks that
turn a bad field into one clear :class:`~fer.errors.UsageError` before anything is written."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fer import distribute
from fer.data.sources import resolve_path
from fer.errors import UsageError
from fer.models import available, default_shape
from fer.models.registry import learning_rate
from fer.run_folder import RunFolder

#: learning-rate schedules (``TrainConfig.schedule``, ``Phase.schedule``, ``--schedule``)
SCHEDULES = ("plateau", "cosine", "cosine_restarts", "constant")


#: training metrics by name (``TrainConfig.metrics``, ``--metrics``)
METRICS = ("accuracy", "precision", "recall", "macro_f1")


#: losses :func:`fer.train.train` knows (``TrainConfig.loss``)
LOSSES = ("categorical_crossentropy", "focal", "arcface")
OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclass
class Phase:
    """One fine-tuning phase: which backbone layers train, for how long, at what learning rate.

    ``trainable_layers``: ``0`` trains the head only, ``N`` also the last N backbone layers, ``-1`` everything
    (BatchNorm layers of a pretrained backbone stay frozen in every phase); ``None`` leaves every layer
    trainable, BatchNorm included: a from-scratch model trained in several learning-rate cycles
    (warm restarts), each phase continuing from the previous phase's weights. ``schedule`` overrides
    :attr:`TrainConfig.schedule` for this phase (e.g. ``"constant"`` for a stochastic-weight-averaging
    tail, see :attr:`TrainConfig.swa_epochs`).
    """

    epochs: int
    lr: float
    trainable_layers: int | None = 0
    schedule: str | None = None


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as the run's ``config.json``).

    Attributes:
        model: a name from :func:`fer.models.available`.
        input_shape: ``(H, W, C)``; ``None`` = the architecture's default.
        model_options: extra keyword arguments for the builder.
        epochs, batch_size: the usual.
        lr: peak learning rate; ``None`` = the architecture's registered default (:func:`fer.models.default_lr`),
            else :data:`fer.models.registry.DEFAULT_LR` (1e-3).
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"`` (Nesterov momentum 0.9).
        weight_decay: decoupled weight decay (adamw / sgd).
        schedule: ``"plateau"`` (ReduceLROnPlateau), ``"cosine"`` (with linear warm-up),
            ``"cosine_restarts"`` (SGDR, Loshchilov & Hutter 2017) or ``"constant"``.
        warmup_epochs: linear warm-up length for the cosine schedules.
        label_smoothing: for the cross-entropy / focal loss.
        loss: ``"categorical_crossentropy"``, ``"focal"`` or ``"arcface"``: additive angular margin
            logits on the model's embedding (the output of its ``embedding`` layer, else the input of its
            ``logits`` layer), optionally with center loss; the run's saved model is the plain softmax
            classifier ``softmax(s · cos θ)`` that shares those weights (see :func:`fer.losses.build_arcface_model`).
        focal_gamma: γ of the focal loss.
        arcface_s, arcface_m: ArcFace scale and margin (radians).
        center_loss_weight: λ of the center loss added to ArcFace (0 = none).
        class_weighting: weight the loss by balanced class weights.
        soft_labels: train on the dataset's ``soft_labels`` (e.g. FER+'s normalised crowd votes, the
            "probability" scheme of Barsoum et al. 2016) instead of one-hot labels; validation accuracy
            still counts the hard labels.
        augment: an :class:`Augment` as a dict, ``True`` for the defaults, ``False`` for none.
        mixup_alpha: > 0 turns mixup on.
        early_stopping: patience in epochs (0 = off).
        reduce_lr_patience: patience of ReduceLROnPlateau when ``schedule == "plateau"``.
        phases: fine-tuning phases (or warm-restart cycles, see :class:`Phase`); when given they replace
            ``epochs``/``lr``. An interrupted multi-phase run resumes in the phase it stopped in.
        init_from: start from the weights of this ``.keras`` model or ``.weights.h5`` file: every layer
            whose name and weight shapes match is copied (e.g. a FER2013 model fine-tuned on FER+'s
            8 classes gets everything but its classifier). Relative paths are tried from the working
            directory, then from the repository root.
        mixed_precision: ``"auto"`` (float16 on a GPU, else float32), ``"mixed_bfloat16"``, ``"float32"``...
        deterministic: make TensorFlow ops deterministic (same seed + data → same weights).
        seed: seeds weights, shuffling and augmentation.
        tta: evaluate the final model with test-time augmentation as well.
        keep: ``"best"`` or ``"last"``: which checkpoint becomes ``model.keras`` (the run's model).
        swa_epochs: stochastic weight averaging (Izmailov et al. 2018): the run's model is the average of
            the weights at the end of each of the last ``swa_epochs`` epochs (all in the last phase, best
            run at a constant learning rate: ``Phase(..., schedule="constant")``), with its BatchNorm
            statistics re-estimated on the un-augmented training faces. Resumable like the rest.
        recalibrate_bn: after training, re-estimate the BatchNorm statistics of the saved models on the
            un-augmented training faces (:func:`fer.weight_averaging.update_batchnorm`): the statistics
            gathered during training describe augmented faces, not the clean faces of test time.
        strategy: ``None`` (one process, default device), or a :mod:`fer.distribute` strategy name:
            ``"mirrored"`` (every GPU of this machine), ``"multiworker"`` (the workers ``TF_CONFIG`` names) or
            ``"tpu"``. ``batch_size`` is then per replica: the global batch is ``batch_size x replicas``.
        clipnorm: clip each gradient to this L2 norm (``None``: no clipping), against exploding updates.
        metrics: what the history records each epoch, from :data:`METRICS`: ``"accuracy"``, ``"precision"``
            and ``"recall"`` (one-vs-rest at probability 0.5, Keras' definitions, as the sources report them)
            and ``"macro_f1"``.
        distill_from: knowledge distillation (:mod:`fer.distill`): a teacher ``.keras`` file, or a list of
            them averaged as an ensemble; the targets blend the labels with the teacher's predictions on the
            same augmented batch, softened by ``distill_temperature``, with weight ``distill_alpha``.
        distill_cache: ask the teacher once, before training, about each un-augmented training face (and its
            mirror image) instead of about every augmented batch: the student trains at its own speed; the
            answers are kept in the run folder (``teacher.npz``) for a resumed run (:mod:`fer.distill`).
        backup_steps: save the resume checkpoint (``backup/``) every this many training steps as well as at
            every epoch end (0: at epoch ends only), so a stop costs at most that many steps; a resumed run
            trains the rest of the epoch it was cut in, each batch once (:mod:`fer.training.backup`); under a
            distribution strategy it restarts that epoch from the checkpoint's weights.

    Example:
        >>> from fer.train import TrainConfig
        >>> cfg = TrainConfig(model="fer_resnet", epochs=30, optimizer="sgd", lr=0.05, schedule="cosine",
        ...                   label_smoothing=0.1, mixup_alpha=0.2, mixed_precision="mixed_bfloat16")
        >>> cfg.resolved_shape()  # input_shape=None: the architecture's default
        (48, 48, 1)
        >>> saved = TrainConfig.from_dict(cfg.to_dict())  # what config.json holds (the shape resolved), read back
        >>> saved.input_shape, saved.epochs, saved.mixed_precision
        ((48, 48, 1), 30, 'mixed_bfloat16')
    """

    model: str = "baseline_cnn"
    input_shape: tuple[int, int, int] | None = None
    model_options: dict = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 64
    lr: float | None = None
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "plateau"
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    loss: str = "categorical_crossentropy"
    focal_gamma: float = 2.0
    arcface_s: float = 30.0
    arcface_m: float = 0.5
    center_loss_weight: float = 0.0
    class_weighting: bool = False
    soft_labels: bool = False
    augment: dict | bool = True
    mixup_alpha: float = 0.0
    early_stopping: int = 10
    reduce_lr_patience: int = 4
    phases: list[Phase] = field(default_factory=list)
    init_from: str | None = None
    mixed_precision: str = "auto"
    deterministic: bool = True
    seed: int = 42
    tta: bool = False
    keep: str = "best"
    swa_epochs: int = 0
    recalibrate_bn: bool = False
    strategy: str | None = None
    backup_steps: int = 0
    clipnorm: float | None = None
    metrics: tuple[str, ...] = ("accuracy",)
    distill_from: str | list[str] | None = None
    distill_alpha: float = 0.5
    distill_temperature: float = 2.0
    distill_cache: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.resolved_shape())
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["phases"] = [Phase(**p) for p in d.get("phases", [])]
        if d.get("input_shape") is not None:
            d["input_shape"] = tuple(d["input_shape"])
        if "metrics" in d:
            d["metrics"] = tuple(d["metrics"])
        return cls(**d)

    def resolved_shape(self) -> tuple[int, int, int]:
        return tuple(self.input_shape) if self.input_shape else default_shape(self.model)

    def resolved_lr(self) -> float:
        """``lr``, else the architecture's default from the registry (:func:`fer.models.registry.learning_rate`)."""
        return self.lr if self.lr is not None else learning_rate(self.model)



def check_config(cfg: TrainConfig) -> None:
    """Raise :class:`UsageError` naming the field (and its command-line flag) when ``cfg`` cannot train.

    Called by :func:`train` before anything is written, and by ``python -m fer train`` before the data is read.
    """
    if cfg.model not in available():
        raise UsageError(f"model={cfg.model!r} (--model): no such architecture; choose one of {available()} "
                         "(`python -m fer models` lists them)")
    if cfg.phases:
        for i, phase in enumerate(cfg.phases):
            if not isinstance(phase.epochs, int) or phase.epochs < 1:
                raise UsageError(f"phases[{i}].epochs={phase.epochs!r}: every phase trains at least 1 epoch")
            if not (isinstance(phase.lr, (int, float)) and math.isfinite(phase.lr) and phase.lr > 0):
                raise UsageError(f"phases[{i}].lr={phase.lr!r}: a learning rate must be a positive number, e.g. 1e-4")
            if phase.schedule is not None and phase.schedule not in SCHEDULES:
                raise UsageError(f"phases[{i}].schedule={phase.schedule!r}: choose one of {SCHEDULES}")
    else:
        if not isinstance(cfg.epochs, int) or cfg.epochs < 1:
            raise UsageError(f"epochs={cfg.epochs!r} (--epochs): train at least 1 epoch, e.g. --epochs 30")
        lr = cfg.resolved_lr()
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise UsageError(f"lr={lr!r} (--lr): the learning rate must be a positive number, e.g. --lr 1e-3 "
                             "(a negative one climbs the loss instead of descending it)")
    if not isinstance(cfg.batch_size, int) or cfg.batch_size < 1:
        raise UsageError(f"batch_size={cfg.batch_size!r} (--batch-size): give at least 1 face per batch, "
                         "e.g. --batch-size 64")
    if cfg.optimizer not in OPTIMIZERS:
        raise UsageError(f"optimizer={cfg.optimizer!r}: choose one of {OPTIMIZERS}")
    if cfg.schedule not in SCHEDULES:
        raise UsageError(f"schedule={cfg.schedule!r}: choose one of {SCHEDULES}")
    unknown = [m for m in cfg.metrics if m not in METRICS]
    if unknown or "accuracy" not in cfg.metrics:
        raise UsageError(f"metrics={list(cfg.metrics)!r} (--metrics): choose from {METRICS}, accuracy included "
                         "(checkpoints and early stopping follow it), e.g. --metrics accuracy,precision,recall")
    if cfg.loss == "arcface" and len(cfg.metrics) > 1:
        raise UsageError("--metrics precision/recall/macro_f1 need probabilities; loss='arcface' trains on margin "
                         "logits: use --metrics accuracy")
    if cfg.distill_from:
        if cfg.loss == "arcface":
            raise UsageError("distill_from (--distill-from) blends soft targets; loss='arcface' needs one true "
                             "class per face: use the cross-entropy loss")
        missing = [f for f in as_list(cfg.distill_from) if not resolve_path(f).is_file()]
        if missing:
            raise UsageError(f"--distill-from {missing[0]}: no such teacher model; give a .keras file "
                             "(repeat the flag for an ensemble teacher)")
        if cfg.distill_cache and cfg.mixup_alpha > 0:
            raise UsageError("distill_cache (--distill-cache) keeps one teacher answer per face, but mixup blends "
                             "two faces: use the on-the-fly teacher (no --distill-cache) with mixup")
        if not 0.0 <= cfg.distill_alpha <= 1.0 or cfg.distill_temperature <= 0:
            raise UsageError(f"distill_alpha={cfg.distill_alpha} must be in [0, 1] and distill_temperature="
                             f"{cfg.distill_temperature} positive (--distill-alpha, --distill-temperature)")
    if cfg.clipnorm is not None and not (math.isfinite(cfg.clipnorm) and cfg.clipnorm > 0):
        raise UsageError(f"clipnorm={cfg.clipnorm!r} (--clipnorm): give a positive gradient norm, e.g. --clipnorm 1.0")
    if cfg.loss not in LOSSES:
        raise UsageError(f"loss={cfg.loss!r} (--loss): choose one of {LOSSES}")
    if not 0.0 <= cfg.label_smoothing < 1.0:
        raise UsageError(f"label_smoothing={cfg.label_smoothing!r} (--label-smoothing): give a value in [0, 1), "
                         "e.g. 0.1")
    if cfg.mixup_alpha < 0:
        raise UsageError(f"mixup_alpha={cfg.mixup_alpha!r} (--mixup): give 0 (off) or a positive alpha, e.g. 0.2")
    if cfg.keep not in ("best", "last"):
        raise UsageError(f"keep must be 'best' or 'last', got {cfg.keep!r}")
    last_phase_epochs = cfg.phases[-1].epochs if cfg.phases else cfg.epochs
    if not 0 <= cfg.swa_epochs <= last_phase_epochs:
        raise UsageError(f"swa_epochs={cfg.swa_epochs} must be between 0 and the {last_phase_epochs} epochs of the "
                         "last phase")
    if cfg.swa_epochs and cfg.keep != "last":
        raise UsageError("swa_epochs needs keep='last': the run's model is the weight average, not a checkpoint")
    if not isinstance(cfg.backup_steps, int) or cfg.backup_steps < 0:
        raise UsageError(f"backup_steps={cfg.backup_steps!r} (--backup-steps): give 0 (a checkpoint every epoch) "
                         "or a positive number of steps")
    if cfg.strategy is not None and cfg.strategy not in distribute.STRATEGIES:
        raise UsageError(f"strategy={cfg.strategy!r} (--strategy): choose one of {distribute.STRATEGIES}")


def check_out_dir(out: Path) -> None:
    """Raise :class:`UsageError` when the run folder ``out`` cannot be created or written (read-only disk,
    no permission, a file in the way); writes nothing that stays."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder; choose a folder path for the run")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--out {out}: {parent} is a file, not a folder; choose another --out")
    try:
        with tempfile.TemporaryFile(dir=parent):  # an unnamed file: nothing is left even if killed here
            pass
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write in {parent} ({exc.strerror or exc}); choose a folder you can "
                         "write to, e.g. --out results/runs/NAME") from None


def as_list(value) -> list:
    """``value`` as a list: a list or tuple as it is, anything else as its only item."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


#: settings that change how often a run saves, not what it trains: never a difference between two runs
RESULT_NEUTRAL = frozenset({"backup_steps"})


def _comparable(config: dict) -> dict:
    return json.loads(json.dumps({k: v for k, v in config.items() if k in TrainConfig.__dataclass_fields__},
                                 default=list))


def config_mismatch(run_dir: str | os.PathLike, cfg: TrainConfig) -> dict:
    """The fields of ``run_dir/config.json`` that differ from ``cfg`` (``{field: (stored, expected)}``).

    Fields added to :class:`TrainConfig` after a run was trained are not in its ``config.json`` and count as
    no difference, nor do those of :data:`RESULT_NEUTRAL`. A study calls this before training into a folder,
    so a finished run of other settings is never overwritten by accident.
    """
    stored = _comparable(json.loads(RunFolder(run_dir).config.read_text()))
    expected = _comparable(cfg.to_dict())
    return {k: (stored[k], v) for k, v in expected.items()
            if k in stored and k not in RESULT_NEUTRAL and stored[k] != v}
