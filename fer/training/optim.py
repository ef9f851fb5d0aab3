"""How a phase trains: the learning-rate schedule (:class:`WarmupCosine`), the optimizer, the loss, the metrics
and the mixed-precision policy, each made from a :class:`~fer.training.config.TrainConfig`."""

from __future__ import annotations

import math

import keras

from fer.training.config import SCHEDULES, TrainConfig


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



def set_precision(policy: str) -> str:
    """Set Keras' global dtype policy (``"auto"``: ``mixed_float16`` on a GPU, else ``float32``); returns it."""
    from fer.environment import devices

    if policy == "auto":
        policy = "mixed_float16" if devices()["gpus"] else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def make_metrics(cfg: TrainConfig, num_classes: int) -> list:
    """The Keras metrics of ``cfg.metrics`` (names from :data:`fer.training.config.METRICS`)."""
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


def make_optimizer(cfg: TrainConfig, lr, steps_per_epoch: int, epochs: int, schedule: str | None = None):
    """The optimizer of a phase of ``epochs`` epochs at peak ``lr`` (``schedule`` overrides ``cfg.schedule``)."""
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


def make_loss(cfg: TrainConfig):
    """The training loss of ``cfg.loss`` (from logits for ArcFace's margin logits)."""
    if cfg.loss == "arcface":  # the training model outputs margin logits, not probabilities
        return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing)
    if cfg.loss == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
    from fer.training.losses import get_loss

    return get_loss(cfg.loss, gamma=cfg.focal_gamma, label_smoothing=cfg.label_smoothing)

