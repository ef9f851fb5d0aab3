"""Fit any model from :mod:`fer.models` on a dataset and write a run folder.

A run folder holds everything later steps need: ``config.json``, ``env.json``, ``history.csv`` /
``history.json``, ``best.keras`` (best validation accuracy), ``final.keras`` (last epoch),
``metrics_<split>.json``, ``plots/`` and, written last, ``run.json`` (the run is finished; the sha256 of the
model's weights). Anything that compares models reads run folders, never re-trains. A run folder never lies:
re-running a finished run does nothing (``force=True`` / ``--force`` trains it again), an interrupted one
resumes with ``history.csv`` and ``history.json`` covering every epoch, and arguments are checked before
anything is written.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np

from fer import distribute
from fer.class_names import attach_class_names
from fer.data.dataset import Dataset
from fer.data.pipeline import Augment, FERSequence, class_weights as balanced_class_weights
from fer.data.sources import resolve_path
from fer.errors import UsageError
from fer.files import json_default, save_model, write_json, write_text
from fer.landmarks.data import prepare_landmark_inputs
from fer.models import available, build, default_lr, default_shape
from fer.models.transfer import copy_weights_by_name
from fer.provenance import command_line, file_sha256, weights_sha256
from fer.weight_averaging import WeightAverage, update_batchnorm


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
            else 1e-3.
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
        backup_steps: save the resume checkpoint (``backup/``) every this many training steps instead of at
            every epoch end (0), so a killed worker costs at most that many steps; a resumed run restarts the
            epoch it was in from the checkpoint's weights.
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
        if self.lr is not None:
            return self.lr
        return (default_lr(self.model) if self.model in available() else None) or 1e-3


@dataclass
class Run:
    """What :func:`train` returns: the trained model, its history and the run folder."""

    model: keras.Model
    history: dict
    out_dir: Path
    config: TrainConfig
    metrics: dict = field(default_factory=dict)
    status: str = "trained"  # "finished": the run folder already held this finished run; nothing was trained


class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak`` then cosine decay to ``floor``; with ``restarts`` the cosine restarts
    (SGDR) with periods growing by ``t_mul``."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int = 0, floor: float = 0.0,
                 restarts: bool = False, first_period: int | None = None, t_mul: float = 2.0) -> None:
        self.peak, self.total_steps, self.warmup_steps = float(peak), int(total_steps), int(warmup_steps)
        self.floor, self.restarts, self.t_mul = float(floor), bool(restarts), float(t_mul)
        self.first_period = int(first_period or max(1, (total_steps - warmup_steps) // 3))

    def __call__(self, step):
        ops = keras.ops
        step = ops.cast(step, "float32")
        warm = self.peak * (step + 1.0) / max(1, self.warmup_steps)
        t = ops.maximum(step - self.warmup_steps, 0.0)
        if self.restarts:
            # index of the current period and position inside it for geometric period lengths
            if self.t_mul == 1.0:
                period = ops.cast(self.first_period, "float32")
                pos = t - ops.floor(t / period) * period
            else:
                i = ops.floor(ops.log(1.0 + t * (self.t_mul - 1.0) / self.first_period) / math.log(self.t_mul))
                start = self.first_period * (ops.power(self.t_mul, i) - 1.0) / (self.t_mul - 1.0)
                period = self.first_period * ops.power(self.t_mul, i)
                pos = t - start
            frac = pos / period
        else:
            frac = ops.minimum(t / max(1, self.total_steps - self.warmup_steps), 1.0)
        cosine = self.floor + 0.5 * (self.peak - self.floor) * (1.0 + ops.cos(math.pi * frac))
        return ops.where(step < self.warmup_steps, warm, cosine)

    def get_config(self) -> dict:
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
                "floor": self.floor, "restarts": self.restarts, "first_period": self.first_period,
                "t_mul": self.t_mul}


def environment() -> dict:
    """Versions and devices, written as a run's ``env.json``."""
    import tensorflow as tf

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "devices": [d.name for d in tf.config.list_logical_devices()],
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "mixed_precision_policy": keras.mixed_precision.global_policy().name,
    }


def _set_precision(policy: str) -> str:
    import tensorflow as tf

    if policy == "auto":
        policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


SCHEDULES = ("plateau", "cosine", "cosine_restarts", "constant")


#: training metrics by name (``TrainConfig.metrics``, ``--metrics``)
METRICS = ("accuracy", "precision", "recall", "macro_f1")


def _make_metrics(cfg: TrainConfig, num_classes: int) -> list:
    made = []
    for name in cfg.metrics:
        if name == "accuracy":
            made.append("accuracy")
        elif name == "precision":
            made.append(keras.metrics.Precision(name="precision"))
        elif name == "recall":
            made.append(keras.metrics.Recall(name="recall"))
        elif name == "macro_f1":
            made.append(keras.metrics.F1Score(average="macro", name="macro_f1"))
    return made


def _make_optimizer(cfg: TrainConfig, lr, steps_per_epoch: int, epochs: int, schedule: str | None = None):
    schedule = schedule or cfg.schedule
    if schedule in ("cosine", "cosine_restarts"):
        lr = WarmupCosine(lr, steps_per_epoch * epochs, steps_per_epoch * cfg.warmup_epochs,
                          restarts=schedule == "cosine_restarts",
                          first_period=steps_per_epoch * max(1, (epochs - cfg.warmup_epochs) // 3))
    elif schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    clip = {"clipnorm": cfg.clipnorm} if cfg.clipnorm else {}
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(lr, **clip)
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay or 1e-4, **clip)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay or None, **clip)
    raise ValueError(f"optimizer must be 'adam', 'adamw' or 'sgd', got {cfg.optimizer!r}")


def _make_loss(cfg: TrainConfig):
    if cfg.loss == "arcface":  # the training model outputs margin logits, not probabilities
        return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing)
    if cfg.loss == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
    from fer.losses import get_loss

    return get_loss(cfg.loss, gamma=cfg.focal_gamma, label_smoothing=cfg.label_smoothing)


def embedding_output(model: keras.Model):
    """The tensor ArcFace works on: the output of a layer named ``embedding``, else the input of ``logits``."""
    names = {layer.name for layer in model.layers}
    if "embedding" in names:
        return model.get_layer("embedding").output
    if "logits" in names:
        return model.get_layer("logits").input
    raise ValueError(f"loss='arcface' needs a model with an 'embedding' or a 'logits' layer; "
                     f"{model.name!r} has neither")


def build_models(cfg: TrainConfig, shape: tuple[int, int, int], num_classes: int) -> tuple[keras.Model, keras.Model]:
    """``(fit_model, run_model)``: the model ``fit`` trains and the classifier the run saves.

    They are the same model except with ``loss="arcface"``, where ``fit_model`` takes ``{"image",
    "label"}`` and returns margin logits, and ``run_model`` is the softmax classifier sharing its weights.
    """
    model = build(cfg.model, shape, num_classes, **cfg.model_options)
    if cfg.loss != "arcface":
        return model, model
    from fer.losses import build_arcface_model

    backbone = keras.Model(model.inputs, embedding_output(model), name=model.name)
    return build_arcface_model(backbone, num_classes, s=cfg.arcface_s, m=cfg.arcface_m,
                               center_loss_weight=cfg.center_loss_weight)


#: input-side layers of the builders (see fer.models.blocks.input_stem): never part of the backbone
_STEM_LAYERS = frozenset({"image", "gray_to_rgb", "rescale", "caffe_preprocess"})


def _backbone_layers(model: keras.Model) -> list:
    """The pretrained backbone's layers, in order: a nested backbone model's layers, or, for the
    project's flat graphs, every layer between the input stem and the head's ``avg_pool`` except the
    attention blocks the project adds (they start random, so they always train)."""
    from fer.layers import CBAM, ChannelAttention, SpatialAttention, SqueezeExcitation

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if nested:
        return list(nested[0].layers)
    names = [layer.name for layer in model.layers]
    if "avg_pool" not in names:
        raise ValueError(f"phased fine-tuning needs a pretrained backbone followed by an 'avg_pool' head; "
                         f"model {model.name!r} has none. Train it without phases.")
    attention = (CBAM, ChannelAttention, SpatialAttention, SqueezeExcitation)
    return [layer for layer in model.layers[:names.index("avg_pool")]
            if layer.name not in _STEM_LAYERS and not isinstance(layer, attention)]


def _set_trainable(model: keras.Model, trainable_layers: int | None) -> None:
    """Unfreeze the last ``trainable_layers`` backbone layers (``0`` = head only, ``-1`` = all; BatchNorm stays
    frozen), or with ``None`` make every layer trainable (training from scratch)."""
    from fer.models.transfer import set_trainable_layers

    if trainable_layers is None:
        for layer in model.layers:
            layer.trainable = True
        return
    backbone = _backbone_layers(model)
    set_trainable_layers(backbone, len(backbone) if trainable_layers < 0 else trainable_layers)


def init_weights(model: keras.Model, source: str | os.PathLike) -> list[str]:
    """Copy into ``model`` the weights of every layer of ``source`` (a ``.keras`` model or a
    ``.weights.h5`` file of the same architecture) whose name and weight shapes match.

    Returns:
        The names of ``model``'s weighted layers that were *not* initialised (e.g. a new classifier).

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: no layer matched (a different architecture).
    """
    path = resolve_path(source)
    if not path.is_file():
        raise FileNotFoundError(f"init_from={str(source)!r}: no such file. Give a .keras model or a "
                                ".weights.h5 file of the same architecture (e.g. models/fer2013_default.keras).")
    if str(path).endswith(".weights.h5"):
        model.load_weights(path)
        return []
    src = keras.saving.load_model(path, compile=False)
    copied = set(copy_weights_by_name(src, model, strict=False))
    if not copied:
        raise ValueError(f"init_from={str(source)!r}: no layer of {src.name!r} matches {model.name!r} by name "
                         "and weight shapes; it is a different architecture.")
    skipped = [layer.name for layer in model.layers if layer.weights and layer.name not in copied]
    return skipped


#: losses :func:`train` knows (``TrainConfig.loss``)
LOSSES = ("categorical_crossentropy", "focal", "arcface")
OPTIMIZERS = ("adam", "adamw", "sgd")


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
        missing = [f for f in _as_list(cfg.distill_from) if not resolve_path(f).is_file()]
        if missing:
            raise UsageError(f"--distill-from {missing[0]}: no such teacher model; give a .keras file "
                             "(repeat the flag for an ensemble teacher)")
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


#: ``config.json`` keys that say how a run was started, not what it trains (ignored when comparing runs)
_VOLATILE = frozenset({"command", "written", "precision"})


def run_state(out: str | os.PathLike) -> str:
    """What the run folder ``out`` holds: ``"new"`` (nothing, or the start of a run that never finished an
    epoch), ``"interrupted"`` (a checkpoint to resume from), ``"trained"`` (training ended; the final model or
    its evaluation was not written), or ``"finished"`` (``run.json`` was written)."""
    out = Path(out)
    if (out / "run.json").is_file():
        return "finished"
    if _interrupted(out):
        return "interrupted"
    if (out / "final.weights.h5").is_file() and (out / "history.json").is_file():
        return "trained"
    return "new"


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _split_record(ds: Dataset) -> dict:
    """How the dataset's splits were made when the project made them (a carved validation, a re-split):
    the settings and a hash of the rows, so a resumed run can check it trains on the same split."""
    import hashlib

    made = {}
    for key in ("carved_validation", "resplit"):
        if key in ds.meta:
            settings = {k: v for k, v in ds.meta[key].items() if k != "rows"}
            settings["split_sha256"] = hashlib.sha256(ds.split.astype(str).tobytes()).hexdigest()
            made[key] = settings
    return made


def _config_changes(out: Path, record: dict) -> list[str]:
    """The fields in which ``record`` (a new run's ``config.json``) differs from the one saved in ``out``."""
    path = out / "config.json"
    if not path.is_file():
        return []
    saved = _read_json(path)
    new = json.loads(json.dumps(record, default=json_default))
    return [f"{k}: {saved[k]!r} -> {new[k]!r}" for k in new
            if k in saved and k not in _VOLATILE and saved[k] != new[k]]


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

    Raises:
        UsageError: a bad argument (the message names it and the fix).
        ValueError: the dataset cannot train this configuration (no soft labels, no training split...).
    """
    cfg = replace(config or TrainConfig(), **overrides)
    check_config(cfg)
    ds, cfg = prepare_landmark_inputs(ds, cfg)  # landmark models: FaceMesh landmarks (cached) instead of pixels
    if cfg.soft_labels and ds.soft_labels is None:
        raise ValueError(f"soft_labels=True (--soft-labels) needs soft labels, and dataset {ds.meta.get('name', '')!r} "
                         "has none: use --data ferplus or fer2013+ferplus (FER+ votes), or give Dataset.soft_labels")
    if cfg.soft_labels and cfg.loss == "arcface":
        raise ValueError("soft_labels=True cannot train loss='arcface': its margin needs one true class per face")
    if not (ds.split == train_split).any():
        raise ValueError(f"train_split={train_split!r}: the dataset has no faces in it (splits present: {ds.splits()})")
    out = Path(out_dir) if out_dir else Path("results") / "runs" / f"{cfg.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    strategy = distribute.get_strategy(strategy if strategy is not None else cfg.strategy)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    chief = distribute.is_chief(strategy)
    if chief:
        check_out_dir(out)
    has_val = val_split is not None and val_split in ds.splits()
    record = {**cfg.to_dict(), "dataset": ds.meta.get("path", ds.meta.get("name", "")),
              "train_split": train_split, "val_split": val_split if has_val else None,
              "num_classes": ds.num_classes, "classes": list(ds.classes),
              "train_faces": int((ds.split == train_split).sum()),
              **({"init_from_sha256": _sha256_or_missing(resolve_path(cfg.init_from))} if cfg.init_from else {}),
              **_split_record(ds),
              **({"distill_from_sha256": [_sha256_or_missing(resolve_path(f)) for f in _as_list(cfg.distill_from)]}
                 if cfg.distill_from else {})}
    state = run_state(out)  # every worker reads the chief's folder: they resume (or stop) together
    if state != "new" and not force:
        changes = _config_changes(out, record)
        if changes:
            raise UsageError(f"--out {out} holds a {state} run of another configuration ({'; '.join(changes[:3])}); "
                             "pass --force (force=True) to replace it, or choose another --out")
        if state == "finished":
            print(f"[fer.train] {out} holds this run, finished {_read_json(out / 'run.json').get('written', '')}: "
                  "nothing to do (--force / force=True trains it again)", file=sys.stderr)
            return finished_run(out, cfg)
    state = "new" if force else state
    with distribute.run_folder(out, strategy, resume=state != "new") as out:  # other workers: a temporary folder
        return _train(ds, cfg, out, record, state, strategy, replicas, chief,
                      train_split, val_split, has_val, verbose, workers, callbacks, evaluate)


def finished_run(out: str | os.PathLike, cfg: TrainConfig | None = None) -> Run:
    """The :class:`Run` a finished run folder holds (its model, history and metrics), without training."""
    out = Path(out)
    cfg = cfg or TrainConfig.from_dict({k: v for k, v in _read_json(out / "config.json").items()
                                        if k in TrainConfig.__dataclass_fields__})
    metrics = {p.stem.removeprefix("metrics_"): _read_json(p) for p in sorted(out.glob("metrics_*.json"))}
    model = keras.saving.load_model(out / "model.keras", compile=False)
    return Run(model, _read_json(out / "history.json"), out, cfg, metrics, status="finished")


class EpochLog(keras.callbacks.Callback):
    """The run's per-epoch record, keyed by epoch: ``history.csv`` is rewritten (atomically) from it at every
    epoch end, before the BackupAndRestore checkpoint of that epoch is saved, so the file always holds every
    epoch the checkpoint holds; an epoch trained again after an interruption replaces its row.

    At the first epoch of a ``fit`` the rows from that epoch on are dropped (they were not kept by the
    checkpoint) and ``checkpoint.best`` is set to the best monitored value of the epochs before, so
    ``best.keras`` stays the best epoch of the whole run across resumes and phases.
    """

    def __init__(self, path: Path, rows: dict[int, dict], checkpoint=None, monitor: str = "loss",
                 write: bool = True) -> None:
        super().__init__()
        self.path, self.rows, self.checkpoint, self.monitor, self.write = Path(path), rows, checkpoint, monitor, write
        self._first = True

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if not self._first:
            return
        self._first = False
        for e in [e for e in self.rows if e >= epoch]:
            del self.rows[e]
        seen = [r[self.monitor] for r in self.rows.values()
                if isinstance(r.get(self.monitor), float) and math.isfinite(r[self.monitor])]
        if self.checkpoint is not None and seen:
            self.checkpoint.best = (max if "acc" in self.monitor else min)(seen)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.rows[epoch] = {k: float(v) for k, v in (logs or {}).items()}
        for e in [e for e in self.rows if e > epoch]:
            del self.rows[e]
        if self.write:
            write_history_csv(self.rows, self.path)


def write_history_csv(rows: dict[int, dict], path: Path) -> None:
    """Write ``{epoch: {metric: value}}`` as ``history.csv`` (``epoch`` then the metrics, sorted, like Keras'
    CSVLogger), through a temporary file."""
    keys = sorted({k for r in rows.values() for k in r})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for e in sorted(rows):
        writer.writerow([e, *(repr(rows[e][k]) if k in rows[e] else "" for k in keys)])
    write_text(buf.getvalue(), path)


def read_history_csv(path: Path) -> dict[int, dict]:
    """``{epoch: {metric: value}}`` from a ``history.csv`` (empty when there is none)."""
    if not Path(path).is_file():
        return {}
    with open(path, newline="") as f:
        return {int(r.pop("epoch")): {k: float(v) for k, v in r.items() if v not in ("", None)}
                for r in csv.DictReader(f)}


def history_from_rows(rows: dict[int, dict]) -> dict[str, list]:
    """``history.json``'s lists (one value per epoch, in epoch order; ``None`` where an epoch lacks a metric)."""
    keys = sorted({k for r in rows.values() for k in r})
    return {k: [rows[e].get(k) for e in sorted(rows)] for k in keys}


def _train(ds: Dataset, cfg: TrainConfig, out: Path, record: dict, state: str, strategy, replicas: int, chief: bool,
           train_split: str, val_split: str | None, has_val: bool, verbose, workers: int, callbacks,
           evaluate: bool) -> Run:
    out.mkdir(parents=True, exist_ok=True)
    if state == "new":
        _clear_run(out)  # a fresh run: nothing from an earlier run in this folder may leak into this one
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    policy = _set_precision(cfg.mixed_precision)
    shape = cfg.resolved_shape()
    if val_split is not None and not has_val:
        print(f"[fer.train] split {val_split!r} is not in this dataset (present: {ds.splits()}); "
              "training without validation, checkpoints follow the training loss.", file=sys.stderr)
    augment = Augment(**cfg.augment) if isinstance(cfg.augment, dict) else bool(cfg.augment)
    cw = balanced_class_weights(ds.subset(train_split).labels, ds.num_classes) if cfg.class_weighting else None
    batch = cfg.batch_size * replicas  # the global batch: batch_size faces per replica
    train_seq = FERSequence(ds, train_split, shape, batch, augment=augment, mixup_alpha=cfg.mixup_alpha,
                            labels="soft" if cfg.soft_labels else "onehot", class_weight=cw, seed=cfg.seed,
                            workers=workers)
    val_seq = FERSequence(ds, val_split, shape, 256, workers=workers) if has_val else None

    _write_json(out / "config.json", {**record, "command": command_line(), "precision": policy})
    _write_json(out / "env.json", environment())

    monitor = "val_accuracy" if has_val else "loss"
    phases = cfg.phases or [Phase(cfg.epochs, cfg.resolved_lr(), -1)]
    def scope():
        return strategy.scope() if strategy is not None else contextlib.nullcontext()

    with scope():
        model, _ = build_models(cfg, shape, ds.num_classes)  # the classifier is rebuilt at the end (float32)
        if cfg.init_from:
            fresh = init_weights(model, cfg.init_from)
            print(f"[fer.train] initialised from {cfg.init_from}; new layers: {fresh or 'none'}", file=sys.stderr)
    if replicas > 1:  # batch statistics over the global batch: the same as one process, the same on every worker
        distribute.synchronize_batchnorm(model)
    distribute.fix_keras_multi_worker(model, strategy)
    fit_train, fit_val = train_seq, val_seq
    if cfg.loss == "arcface":  # the margin needs the label as a second input
        from fer.losses import ArcFaceBatches

        fit_train, fit_val = ArcFaceBatches(train_seq), (ArcFaceBatches(val_seq) if val_seq is not None else None)
    if cfg.distill_from:
        from fer.distill import DistillBatches, load_teacher

        fit_train = DistillBatches(fit_train, load_teacher(cfg.distill_from), cfg.distill_alpha,
                                   cfg.distill_temperature)
    fit_train_seq = fit_train
    if strategy is not None:
        fit_train = distribute.distribute_batches(fit_train, strategy)
        fit_val = distribute.distribute_batches(fit_val, strategy) if fit_val is not None else None
    rows = read_history_csv(out / "history.csv") if state != "new" else {}  # the epochs before an interruption
    earlier_wall = 0.0  # wall time of phases finished before an interruption
    t0 = time.time()
    if state == "trained":  # training ended before the interruption: only the final files are missing
        model.load_weights(out / "final.weights.h5")
        earlier_wall = float(_read_json(out / "history.json").get("wall_seconds", 0.0))
        print(f"[fer.train] {out}: training had finished before the interruption; writing the final model",
              file=sys.stderr)
        phases = []
    start_epoch = 0
    for p, phase in enumerate(phases):
        end_epoch = start_epoch + phase.epochs
        done = out / "backup" / f"phase{p}.done.weights.h5"
        if done.is_file():  # finished before an interruption: take its weights, go on
            model.load_weights(done)
            earlier_wall += _read_json(out / "backup" / f"phase{p}.done.json")["wall_seconds"]
            start_epoch = end_epoch
            print(f"[fer.train] phase {p} was finished before the interruption; resuming after it", file=sys.stderr)
            continue
        t_phase = time.time()
        with scope():
            if cfg.phases:
                _set_trainable(model, phase.trainable_layers)
            model.compile(optimizer=_make_optimizer(cfg, phase.lr, len(train_seq), phase.epochs, phase.schedule),
                          loss=_make_loss(cfg), metrics=_make_metrics(cfg, ds.num_classes))
        mode = "max" if "acc" in monitor else "min"
        checkpoint = keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor=monitor, mode=mode,
                                                     save_best_only=True)
        # order matters: the epoch's row and best.keras are written before its checkpoint, so a run killed
        # in between trains that epoch again (and replaces its row) instead of losing it
        phase_callbacks = [
            EpochLog(out / "history.csv", rows, checkpoint, monitor),
            checkpoint,
            keras.callbacks.BackupAndRestore(str(out / "backup" / f"phase{p}"), delete_checkpoint=False,
                                             save_freq=distribute.backup_frequency(cfg.backup_steps)),
            keras.callbacks.TerminateOnNaN(),
        ]
        if p == len(phases) - 1 and cfg.swa_epochs:
            phase_callbacks.append(WeightAverage(out / "backup" / "swa.npz", start_epoch=end_epoch - cfg.swa_epochs))
        if (phase.schedule or cfg.schedule) == "plateau" and cfg.reduce_lr_patience:
            phase_callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5,
                                                               patience=cfg.reduce_lr_patience, min_lr=1e-6))
        if cfg.early_stopping:
            phase_callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=cfg.early_stopping,
                                                           mode=mode, restore_best_weights=False))
        if strategy is not None:  # fit_train is a tf.data pipeline: move the sequence on to its next epoch
            phase_callbacks.append(distribute.NextEpoch(fit_train_seq))
        phase_callbacks += list(callbacks or [])  # after the built-ins, so they see a saved epoch
        model.fit(fit_train, validation_data=fit_val, epochs=end_epoch, initial_epoch=start_epoch,
                  callbacks=phase_callbacks, verbose=verbose)
        if p < len(phases) - 1:  # a later interruption resumes after this phase, not inside it again
            model.save_weights(done)
            _write_json(done.with_name(f"phase{p}.done.json"), {"wall_seconds": time.time() - t_phase})
        start_epoch = end_epoch
    wall = time.time() - t0 + earlier_wall
    if cfg.swa_epochs and state != "trained":
        model.set_weights(WeightAverage.load(out / "backup" / "swa.npz"))
        print(f"[fer.train] the model is the average of the weights of the last {cfg.swa_epochs} epochs",
              file=sys.stderr)
    if state == "trained":
        history = _read_json(out / "history.json")
        history.pop("written", None)
    else:
        model.save_weights(out / "final.weights.h5")  # first, so nothing after this can lose the trained weights
        history = {**history_from_rows(rows), "wall_seconds": wall}
        write_history_csv(rows, out / "history.csv")
        _write_json(out / "history.json", history)  # history.csv and history.json: the same epochs, always
        shutil.rmtree(out / "backup", ignore_errors=True)  # training is over: nothing left to resume
    clean_faces = FERSequence(ds, train_split, shape, batch, augment=False, shuffle=True, seed=cfg.seed,
                              workers=workers) if cfg.recalibrate_bn or cfg.swa_epochs else None
    final = _finish(model, cfg, shape, ds, clean_faces)
    save_model(final, out / "final.keras")
    if cfg.keep == "last" or not (out / "best.keras").exists():
        shutil.copyfile(out / "final.keras", out / "model.keras")
        kept = final
    else:
        best = keras.saving.load_model(out / "best.keras", compile=False)
        kept = _finish(best, cfg, shape, ds, clean_faces)
        save_model(kept, out / "model.keras")
    keras.mixed_precision.set_global_policy("float32")
    run = Run(final, history, out, cfg)
    if evaluate and chief:
        run.metrics = evaluate_run(out, ds, tta=cfg.tta)
    _write_json(out / "run.json", {"status": "finished", "epochs": len(rows) if rows else len(history.get("loss", [])),
                                   "model_weights_sha256": weights_sha256(kept),
                                   "final_weights_sha256": weights_sha256(final),
                                   "model_keras_sha256": file_sha256(out / "model.keras"),
                                   "workers": distribute.num_workers(strategy), "replicas": replicas})
    return run


def _interrupted(out: Path) -> bool:
    """True when ``out`` holds a BackupAndRestore checkpoint of an unfinished run."""
    return any(p.is_file() for p in (out / "backup").rglob("*"))


def _clear_run(out: Path) -> None:
    for pattern in ("history.csv", "history.json", "metrics_*.json", "*.keras", "final.weights.h5", "run.json"):
        for path in out.glob(pattern):
            path.unlink()
    shutil.rmtree(out / "plots", ignore_errors=True)
    shutil.rmtree(out / "backup", ignore_errors=True)


def evaluate_run(out: Path, ds: Dataset, tta: bool = False) -> dict:
    """Evaluate ``out/model.keras`` on every evaluation split of ``ds``; write metrics and plots into the run folder."""
    from fer.evaluate import evaluate, load_model, write_metrics
    from fer.plots import (
        plot_confusion_matrix,
        plot_history,
        plot_per_class_f1,
        save_figure,
    )

    model = load_model(out / "model.keras")
    results = {}
    for split in [s for s in ("val", "test") if s in ds.splits()]:
        for use_tta in ([False, True] if tta else [False]):
            m = evaluate(model, ds, split=split, tta=use_tta)
            tag = f"{split}_tta" if use_tta else split
            write_metrics(m, out / f"metrics_{tag}.json")
            results[tag] = m
            save_figure(plot_confusion_matrix(m), out / "plots" / f"confusion_{tag}.png", close=True)
            save_figure(plot_per_class_f1(m), out / "plots" / f"per_class_f1_{tag}.png", close=True)
    if (out / "history.csv").exists():
        save_figure(plot_history(out / "history.csv"), out / "plots" / "history.png", close=True)
    return results


def _to_float32(model: keras.Model, cfg: TrainConfig, shape, num_classes: int) -> keras.Model:
    """Rebuild ``model`` (a trained ``fit_model``) uncompiled with float32 layers, copy its weights and
    return the run's classifier (see :func:`build_models`).

    The saved file then carries no optimizer state (smaller) and runs in float32 everywhere (TFLite friendly).
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        fit_clean, clean = build_models(cfg, shape, num_classes)
        fit_clean.set_weights(model.get_weights())
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return clean


def _finish(model: keras.Model, cfg: TrainConfig, shape, ds: Dataset, clean_faces) -> keras.Model:
    """The float32 classifier of a trained ``model``, with class names and (``clean_faces`` given)
    BatchNorm statistics re-estimated on them."""
    final = _to_float32(model, cfg, shape, ds.num_classes)
    attach_class_names(final, ds.classes)
    if clean_faces is not None:
        update_batchnorm(final, clean_faces)
        print(f"[fer.train] BatchNorm statistics re-estimated on the {len(clean_faces.images)} un-augmented "
              "training faces", file=sys.stderr)
    return final


def _sha256_or_missing(path: Path) -> str:
    return file_sha256(path) if path.is_file() else "missing"  # init_weights then says what is wrong


def _read_json(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


def _write_json(path: Path, data: dict) -> None:
    write_json({**data, "written": datetime.now(timezone.utc).isoformat(timespec="seconds")}, path)
