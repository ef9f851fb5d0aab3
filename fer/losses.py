"""Losses and margin layers for training expression classifiers.

Pieces, all Keras 3 (``keras.ops`` only) and registered under the ``fer`` package so that a ``.keras``
file holding them loads with plain ``keras.models.load_model(path)`` once ``fer.losses`` is imported:

* :class:`FocalLoss` — focal loss (Lin et al. 2017) with per-class alpha and label smoothing.
* :class:`ArcFace` — additive angular margin logits (Deng et al. 2019).
* :class:`CenterLoss` — a pass-through layer that adds the center loss (Wen et al. 2016) and
  moves its class centres.
* :func:`build_arcface_model` — ``(train_model, predict_model)`` around an embedding backbone, and
  :func:`get_loss` — loss objects by name, for the training function: both live in
  :mod:`fer.training.losses` and are importable from here (loaded on first use, so ``import fer`` stays light).

Label smoothing for plain cross-entropy is Keras' own
``keras.losses.CategoricalCrossentropy(label_smoothing=...)`` (``get_loss("label_smoothing")``);
:class:`FocalLoss` applies the same smoothing ``y * (1 - eps) + eps / K`` before the focal term.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import keras
from keras import layers, ops

from fer.labels import EMOTIONS, canonical

#: names this module re-exports from :mod:`fer.training.losses`, loaded on first use (see ``__getattr__``)
_TRAINING_NAMES = ("build_arcface_model", "to_arcface_inputs", "get_loss", "LOSS_NAMES", "ArcFaceBatches")

__all__ = ["ArcFace", "CenterLoss", "FocalLoss", "alpha_from_class_weights", *_TRAINING_NAMES[:4]]

_EPS = 1e-7


def _as_one_hot(labels, num_classes: int):
    """One-hot (or soft) float labels from either one-hot/soft labels or integer class ids."""
    if "int" in str(labels.dtype) or "bool" in str(labels.dtype):
        ids = ops.reshape(ops.cast(labels, "int32"), (-1,))
        return ops.one_hot(ids, num_classes, dtype="float32")
    labels = ops.cast(labels, "float32")
    if labels.shape[-1] is not None and labels.shape[-1] != num_classes:
        raise ValueError(
            f"labels have {labels.shape[-1]} columns but the layer has num_classes={num_classes}; "
            "pass one-hot labels of width num_classes or integer class ids"
        )
    return labels


def _split_inputs(inputs) -> tuple[Any, Any]:
    """``embedding`` or ``[embedding]`` or ``[embedding, labels]`` → ``(embedding, labels or None)``."""
    if isinstance(inputs, (list, tuple)):
        if len(inputs) == 1:
            return inputs[0], None
        if len(inputs) == 2:
            return inputs[0], inputs[1]
        raise ValueError(f"expected `embedding` or `[embedding, labels]`, got a sequence of {len(inputs)} tensors")
    return inputs, None


def _embedding_shape(input_shape) -> tuple:
    """The embedding's shape out of ``build``'s ``input_shape`` (one shape or a list of shapes)."""
    if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
        shape = tuple(input_shape[0])
    else:
        shape = tuple(input_shape)
    if len(shape) != 2 or shape[-1] is None:
        raise ValueError(
            f"expected a 2-D embedding (batch, dim) with a known dim, got shape {shape}; "
            "pool the feature map first (e.g. GlobalAveragePooling2D)"
        )
    return shape


# --------------------------------------------------------------------------------------------- ArcFace


@keras.saving.register_keras_serializable(package="fer")
class ArcFace(layers.Layer):
    """Additive angular margin logits (ArcFace).

    Holds the class-centre matrix ``W`` (``embedding_dim × num_classes``). Embedding and columns of
    ``W`` are L2-normalised, so ``cos θ_j = x̂ · ŵ_j``. Called as ``layer([embedding, labels],
    training=True)`` it returns ``s · cos(θ_y + m)`` for the true class and ``s · cos θ_j`` for the
    others; called on ``embedding`` alone, or with ``training=False``, it returns ``s · cos θ``, so the
    same weights serve an inference model ending in a softmax.

    When ``θ_y + m > π`` the margin would make ``cos`` increase again; as in InsightFace the true-class
    logit then falls back to ``cos θ_y − sin(π − m) · m`` (for ``θ_y > π − m``, i.e.
    ``cos θ_y ≤ cos(π − m)``). With ``easy_margin=True`` the margin is applied only where ``cos θ_y > 0``.

    Args:
        num_classes: number of classes (columns of ``W``).
        s: logit scale (feature norm after normalisation).
        m: additive angular margin in radians.
        easy_margin: use the ``cos θ > 0`` rule instead of the threshold fallback.
        kernel_initializer / kernel_regularizer: for ``W``.
        **kwargs: ``Layer`` arguments; ``dtype`` defaults to ``"float32"`` (also under mixed precision).

    Inputs:
        ``embedding`` (``batch × dim``) or ``[embedding, labels]`` with one-hot (or soft, e.g. mixup)
        labels ``batch × num_classes`` or integer ids ``batch`` / ``batch × 1``.

    Returns:
        float32 logits ``batch × num_classes`` (train with cross-entropy ``from_logits=True``).

    References:
        Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition", CVPR 2019.
    """

    def __init__(self, num_classes: int, s: float = 30.0, m: float = 0.5, easy_margin: bool = False,
                 kernel_initializer="glorot_uniform", kernel_regularizer=None, **kwargs):
        kwargs.setdefault("dtype", "float32")  # a numerically sensitive head: float32 under mixed precision too
        super().__init__(**kwargs)
        if int(num_classes) < 2:
            raise ValueError(f"ArcFace num_classes must be at least 2, got {num_classes}")
        if not s > 0:
            raise ValueError(f"ArcFace scale s must be positive, got {s}")
        if not 0 <= m < math.pi / 2:
            raise ValueError(f"ArcFace margin m must be in [0, pi/2) radians, got {m}")
        self.num_classes = int(num_classes)
        self.s = float(s)
        self.m = float(m)
        self.easy_margin = bool(easy_margin)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.cos_m = math.cos(self.m)
        self.sin_m = math.sin(self.m)
        self.th = math.cos(math.pi - self.m)
        self.mm = math.sin(math.pi - self.m) * self.m

    def build(self, input_shape):
        dim = _embedding_shape(input_shape)[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(dim, self.num_classes), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, trainable=True, dtype="float32",
        )

    def cosine(self, embedding):
        """``cos θ`` between each L2-normalised embedding and each normalised class centre."""
        x = ops.normalize(ops.cast(embedding, "float32"), axis=-1, order=2, epsilon=1e-12)
        w = ops.normalize(ops.cast(self.kernel, "float32"), axis=0, order=2, epsilon=1e-12)
        return ops.clip(ops.matmul(x, w), -1.0, 1.0)

    def call(self, inputs, training=None):
        embedding, labels = _split_inputs(inputs)
        cos = self.cosine(embedding)
        if labels is None or not training:
            return self.s * cos
        one_hot = _as_one_hot(labels, self.num_classes)
        sin = ops.sqrt(ops.maximum(1.0 - ops.square(cos), _EPS))
        phi = cos * self.cos_m - sin * self.sin_m  # cos(θ + m)
        if self.easy_margin:
            phi = ops.where(cos > 0.0, phi, cos)
        else:
            phi = ops.where(cos > self.th, phi, cos - self.mm)
        return self.s * (one_hot * phi + (1.0 - one_hot) * cos)

    def compute_output_shape(self, input_shape):
        return (_embedding_shape(input_shape)[0], self.num_classes)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, s=self.s, m=self.m, easy_margin=self.easy_margin,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
        )
        return config


# ------------------------------------------------------------------------------------------ CenterLoss


@keras.saving.register_keras_serializable(package="fer")
class CenterLoss(layers.Layer):
    """Pass-through layer that adds ``weight · center loss`` and updates the class centres.

    Called as ``layer([embedding, labels], training=...)`` it returns ``embedding`` unchanged and adds
    ``weight · mean_i ½‖x_i − c_{y_i}‖²`` with ``self.add_loss`` (computed with the centres before this
    step's update). When ``training`` is true the centres (a non-trainable ``num_classes × dim`` weight,
    initialised to zero) then move as in Wen et al.:
    ``c_j ← c_j − alpha · Σ_i δ(y_i = j)(c_j − x_i) / (1 + Σ_i δ(y_i = j))``.
    Soft labels (mixup, label smoothing) weight each sample's pull by its label mass.

    Args:
        num_classes: number of classes.
        weight: λ, the factor of the center loss in the total loss.
        alpha: centre learning rate in ``[0, 1]``.
        normalize: compute loss and centres on L2-normalised embeddings. Use it next to
            :class:`ArcFace`: ArcFace ignores the embedding norm, so on raw embeddings the center loss
            could be lowered by shrinking every embedding toward zero.
        **kwargs: ``Layer`` arguments; ``dtype`` defaults to ``"float32"`` (also under mixed precision),
            so the returned embedding is float32.

    References:
        Wen et al., "A Discriminative Feature Learning Approach for Deep Face Recognition", ECCV 2016.
    """

    def __init__(self, num_classes: int, weight: float = 0.01, alpha: float = 0.5, normalize: bool = False,
                 **kwargs):
        kwargs.setdefault("dtype", "float32")  # centres and their update stay float32 under mixed precision
        super().__init__(**kwargs)
        if int(num_classes) < 1:
            raise ValueError(f"CenterLoss num_classes must be positive, got {num_classes}")
        if weight < 0:
            raise ValueError(f"CenterLoss weight must be >= 0, got {weight}")
        if not 0 <= alpha <= 1:
            raise ValueError(f"CenterLoss alpha (centre learning rate) must be in [0, 1], got {alpha}")
        self.num_classes = int(num_classes)
        self.weight = float(weight)
        self.alpha = float(alpha)
        self.normalize = bool(normalize)

    def build(self, input_shape):
        dim = _embedding_shape(input_shape)[-1]
        self.centers = self.add_weight(
            name="centers", shape=(self.num_classes, dim), initializer="zeros", trainable=False, dtype="float32",
        )

    def _features(self, embedding):
        x = ops.cast(embedding, "float32")
        if self.normalize:
            x = ops.normalize(x, axis=-1, order=2, epsilon=1e-12)
        return x

    def call(self, inputs, training=None):
        embedding, labels = _split_inputs(inputs)
        if labels is None:
            raise ValueError("CenterLoss must be called on [embedding, labels]")
        x = self._features(embedding)
        y = _as_one_hot(labels, self.num_classes)
        centers = ops.stop_gradient(ops.convert_to_tensor(self.centers))
        diff = x - ops.matmul(y, centers)
        loss = 0.5 * ops.mean(ops.sum(ops.square(diff), axis=-1))
        self.add_loss(self.weight * loss)
        if training and self.alpha > 0:
            xs = ops.stop_gradient(x)
            counts = ops.sum(y, axis=0)  # n_j
            pull = counts[:, None] * centers - ops.matmul(ops.transpose(y), xs)  # Σ_i δ(y_i=j)(c_j − x_i)
            delta = pull / (1.0 + counts)[:, None]
            self.centers.assign(centers - self.alpha * delta)
        return embedding

    def compute_output_shape(self, input_shape):
        return _embedding_shape(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_classes=self.num_classes, weight=self.weight, alpha=self.alpha, normalize=self.normalize)
        return config


# ------------------------------------------------------------------------------------------- FocalLoss


def alpha_from_class_weights(class_weight: Mapping[int | str, float], num_classes: int | None = None,
                             classes: Sequence[str] = EMOTIONS, normalize: bool = True) -> list[float]:
    """Per-class focal ``alpha`` from a Keras-style ``class_weight`` dict.

    Args:
        class_weight: ``{class_index: weight}`` (as passed to ``model.fit``), or ``{emotion_name: weight}``
            with names resolved by :func:`fer.labels.canonical` against ``classes``.
        num_classes: length of the result; default ``len(classes)`` for name keys, else ``max index + 1``.
        classes: class names for name keys (default :data:`fer.labels.EMOTIONS`).
        normalize: rescale so the weights average 1, keeping the loss on the scale of unweighted focal loss.

    Returns:
        ``[alpha_0, ..., alpha_{K-1}]``.

    Raises:
        ValueError: a class is missing, an index is out of range, or a weight is not positive.
    """
    if not class_weight:
        raise ValueError("class_weight is empty; pass {class_index: weight} for every class")
    by_index: dict[int, float] = {}
    for key, value in class_weight.items():
        if isinstance(key, str):
            name = canonical(key)
            if name not in classes:
                raise ValueError(f"class_weight key {key!r} ({name}) is not one of classes {list(classes)}")
            idx = list(classes).index(name)
        else:
            idx = int(key)
        if float(value) <= 0:
            raise ValueError(f"class_weight[{key!r}] = {value} must be positive")
        by_index[idx] = float(value)
    if num_classes is None:
        num_classes = len(classes) if any(isinstance(k, str) for k in class_weight) else max(by_index) + 1
    missing = [i for i in range(num_classes) if i not in by_index]
    extra = [i for i in by_index if not 0 <= i < num_classes]
    if missing or extra:
        raise ValueError(
            f"class_weight must give one weight per class 0..{num_classes - 1}; "
            f"missing {missing}, out of range {extra}"
        )
    alpha = [by_index[i] for i in range(num_classes)]
    if normalize:
        mean = sum(alpha) / num_classes
        alpha = [a / mean for a in alpha]
    return alpha


@keras.saving.register_keras_serializable(package="fer")
class FocalLoss(keras.losses.Loss):
    """Multi-class focal loss ``−Σ_k α_k (1 − p_k)^γ y_k log p_k``.

    With ``gamma=0`` and ``alpha=None`` it is categorical cross-entropy (also with the same
    ``label_smoothing``). Targets are one-hot or soft ``batch × K``; integer ids ``batch`` are accepted too.

    Args:
        gamma: focusing parameter γ ≥ 0 (2 in the paper).
        alpha: ``None``, a scalar, a per-class list of length K, or a ``class_weight`` dict
            (converted with :func:`alpha_from_class_weights`).
        from_logits: whether ``y_pred`` are logits rather than probabilities.
        label_smoothing: ε in ``[0, 1)``; targets become ``y (1 − ε) + ε / K`` as in Keras'
            ``CategoricalCrossentropy``.

    References:
        Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017.
    """

    def __init__(self, gamma: float = 2.0, alpha: float | Sequence[float] | Mapping | None = None,
                 from_logits: bool = False, label_smoothing: float = 0.0,
                 reduction: str = "sum_over_batch_size", name: str = "focal_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if gamma < 0:
            raise ValueError(f"FocalLoss gamma must be >= 0, got {gamma}")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"FocalLoss label_smoothing must be in [0, 1), got {label_smoothing}")
        if isinstance(alpha, Mapping):
            alpha = alpha_from_class_weights(alpha)
        elif alpha is not None and not isinstance(alpha, (int, float)):
            alpha = [float(a) for a in alpha]
            if any(a < 0 for a in alpha):
                raise ValueError(f"FocalLoss alpha must be non-negative, got {alpha}")
        self.gamma = float(gamma)
        self.alpha = float(alpha) if isinstance(alpha, (int, float)) else alpha
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        num_classes = y_pred.shape[-1]
        if len(y_true.shape) == len(y_pred.shape) - 1:
            y_true = ops.one_hot(ops.cast(y_true, "int32"), num_classes, dtype=y_pred.dtype)
        y_true = ops.cast(y_true, y_pred.dtype)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / num_classes
        if self.from_logits:
            log_p = ops.log_softmax(y_pred, axis=-1)
            p = ops.exp(log_p)
        else:
            p = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
            p = ops.clip(p, _EPS, 1.0 - _EPS)
            log_p = ops.log(p)
        loss = -y_true * log_p
        if self.gamma:
            loss = loss * ops.power(1.0 - ops.clip(p, _EPS, 1.0 - _EPS), self.gamma)
        if self.alpha is not None:
            alpha = ops.convert_to_tensor(self.alpha, dtype=y_pred.dtype)
            if len(alpha.shape) == 1 and alpha.shape[0] != num_classes:
                raise ValueError(f"FocalLoss alpha has {alpha.shape[0]} values but predictions have "
                                 f"{num_classes} classes")
            loss = loss * alpha
        return ops.sum(loss, axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(gamma=self.gamma, alpha=self.alpha, from_logits=self.from_logits,
                      label_smoothing=self.label_smoothing)
        return config


def __getattr__(name: str):
    """``fer.losses.get_loss`` & co.: import them from :mod:`fer.training.losses` on first use (PEP 562)."""
    if name in _TRAINING_NAMES:
        from fer.training import losses as training_losses

        return getattr(training_losses, name)
    raise AttributeError(f"module 'fer.losses' has no attribute {name!r}")
