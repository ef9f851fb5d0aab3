"""Batches for training: a ``keras.utils.PyDataset`` with face-safe augmentation, mixup and class weights.

One job in one place, a little over 400 lines: the augmentation settings, their OpenCV implementation and the
sequence that applies them are read together (what a batch holds is decided here and nowhere else).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import keras
import numpy as np

from fer.data.dataset import Dataset


@dataclass(frozen=True)
class Augment:
    """Face-safe augmentation settings (all ranges are ± around the identity).

    The defaults are the course's "conservative" recipe: rotation ±15°, width/height shift 10%,
    zoom 10%, horizontal flip, brightness ±20%. There is deliberately no vertical flip (upside-down
    faces do not occur) and no shear (it distorts facial proportions).

    Attributes:
        rotation: maximum rotation in degrees.
        shift: maximum translation as a fraction of the image side.
        zoom: maximum zoom in/out as a fraction.
        flip: mirror half of the faces left-right.
        brightness: maximum relative brightness change.
        contrast: maximum relative contrast change.
        erase: probability of blanking one random rectangle (random erasing, Zhong et al. 2020).
    """

    rotation: float = 15.0
    shift: float = 0.10
    zoom: float = 0.10
    flip: bool = True
    brightness: float = 0.2
    contrast: float = 0.0
    erase: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def class_weights(labels: np.ndarray, num_classes: int | None = None) -> dict[int, float]:
    """Balanced class weights ``n / (k * count)`` as the ``{class: weight}`` dict Keras' ``fit`` takes.

    Classes with no samples get weight 0 (they cannot contribute to the loss anyway).

    Args:
        labels: integer labels, shape ``N``.
        num_classes: ``k``; default ``labels.max() + 1``.
    """
    labels = np.asarray(labels)
    k = int(num_classes if num_classes is not None else labels.max() + 1)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    n = counts.sum()
    return {i: (float(n / (k * c)) if c else 0.0) for i, c in enumerate(counts)}


def augment_batch(images: np.ndarray, rng: np.random.Generator, aug: Augment) -> np.ndarray:
    """Apply random affine + photometric augmentation to a uint8 batch ``N x H x W x C``; returns float32."""
    n, h, w, c = images.shape
    out = np.empty(images.shape, dtype=np.float32)
    angles = rng.uniform(-aug.rotation, aug.rotation, n)
    scales = 1.0 + rng.uniform(-aug.zoom, aug.zoom, n)
    shifts = rng.uniform(-aug.shift, aug.shift, (n, 2)) * (w, h)
    flips = rng.random(n) < 0.5 if aug.flip else np.zeros(n, bool)
    gains = (1.0 + rng.uniform(-aug.brightness, aug.brightness, n)).astype(np.float32)
    contrasts = (1.0 + rng.uniform(-aug.contrast, aug.contrast, n)).astype(np.float32)
    erase = rng.random(n) < aug.erase
    centre = (w / 2.0, h / 2.0)
    for i in range(n):
        m = cv2.getRotationMatrix2D(centre, float(angles[i]), float(scales[i]))
        m[:, 2] += shifts[i]
        img = images[i]
        if flips[i]:
            img = img[:, ::-1]
        warped = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101)
        out[i] = warped.reshape(h, w, c)
    mean = out.mean(axis=(1, 2, 3), keepdims=True)
    out = (out - mean) * contrasts[:, None, None, None] + mean * gains[:, None, None, None]
    for i in np.flatnonzero(erase):
        eh, ew = int(h * rng.uniform(0.15, 0.4)), int(w * rng.uniform(0.15, 0.4))
        y0, x0 = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
        out[i, y0:y0 + eh, x0:x0 + ew] = rng.uniform(0, 255)
    return np.clip(out, 0.0, 255.0, out=out)


def mixup(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, alpha: float = 0.2):
    """Mixup (Zhang et al., 2018): convex combinations of a batch with a shuffled copy of itself.

    Returns ``(x_mixed, y_mixed)``; each label row still sums to 1.
    """
    lam = rng.beta(alpha, alpha, size=len(x)).astype(np.float32)
    perm = rng.permutation(len(x))
    lx = lam.reshape((-1,) + (1,) * (x.ndim - 1))
    ly = lam[:, None]
    return lx * x + (1 - lx) * x[perm], ly * y + (1 - ly) * y[perm]


class FERSequence(keras.utils.PyDataset):
    """Batches of one split of a :class:`fer.data.Dataset`, shaped for a model.

    Yields ``(x, y)`` or ``(x, y, sample_weight)``: ``x`` float32 pixels in ``[0, 255]`` at
    ``input_shape`` (resized from the stored size, gray repeated to RGB when the model has 3 channels),
    ``y`` one-hot (or the dataset's soft labels). Deterministic for a given ``seed``: the same
    epoch and batch index always give the same batch, whichever worker makes it.

    Args:
        ds: the dataset.
        split: ``"train"``, ``"val"`` or ``"test"``; a missing split raises a ``ValueError`` naming the present ones.
        input_shape: ``(H, W, C)`` the model expects; ``None`` keeps the stored shape.
        batch_size: faces per batch.
        augment: an :class:`Augment`, ``True`` for the defaults, or ``None``/``False`` for none.
        mixup_alpha: > 0 applies mixup with that Beta(α, α) to every batch.
        shuffle: reshuffle every epoch (default: only for ``"train"``).
        labels: ``"onehot"`` or ``"soft"`` (uses ``ds.soft_labels``).
        class_weight: a ``{class: weight}`` dict turned into per-sample weights (use with mixup-free training).
        seed: base seed for shuffling and augmentation.
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` for ``keras.utils.PyDataset``.

    Example:
        >>> from fer.data import FERSequence, make_synthetic
        >>> batches = FERSequence(make_synthetic(8), "train", (48, 48, 1), batch_size=16, augment=True)
        >>> x, y = batches[0]
        >>> x.shape, y.shape
        ((16, 48, 48, 1), (16, 7))
    """

    def __init__(self, ds: Dataset, split: str = "train", input_shape: tuple[int, int, int] | None = None,
                 batch_size: int = 64, augment: Augment | bool | None = None, mixup_alpha: float = 0.0,
                 shuffle: bool | None = None, labels: str = "onehot", class_weight: dict[int, float] | None = None,
                 seed: int = 0, **kwargs) -> None:
        kwargs.setdefault("workers", 1)
        super().__init__(**kwargs)
        part = ds.subset(split)
        if labels == "soft":
            if part.soft_labels is None:
                raise ValueError("labels='soft' needs a dataset with soft_labels "
                                 "(e.g. load_ferplus(mode='probability'))")
            self.y = part.soft_labels.astype(np.float32)
        elif labels == "onehot":
            self.y = np.eye(ds.num_classes, dtype=np.float32)[part.labels]
        else:
            raise ValueError(f"labels must be 'onehot' or 'soft', got {labels!r}")
        self.images = part.images
        # a dataset with its own inputs (fer.landmarks.LandmarkDataset: landmarks, or image + landmarks)
        # makes its batches
        self._batch_inputs = getattr(part, "batch_inputs", None)
        self.label_ids = part.labels
        self.split = split
        self.input_shape = tuple(input_shape) if input_shape is not None else part.image_shape
        self.batch_size = int(batch_size)
        self.augment = Augment() if augment is True else (augment or None)
        self.mixup_alpha = float(mixup_alpha)
        self.shuffle = (split == "train") if shuffle is None else bool(shuffle)
        self.sample_weight = None
        if class_weight is not None:
            table = np.array([class_weight.get(i, 1.0) for i in range(ds.num_classes)], dtype=np.float32)
            self.sample_weight = table[part.labels]
        self.seed = int(seed)
        self.epoch = 0
        self._order = self._make_order()

    def _make_order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.images))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.images))

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    @property
    def num_batches(self) -> int:
        return len(self)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._make_order()

    def __getitem__(self, index: int):
        idx = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        if self._batch_inputs is not None:
            x = self._batch_inputs(idx, rng, self.augment, self.input_shape)
        else:
            batch = self.images[idx]
            if self.augment is not None:
                x = augment_batch(batch, rng, self.augment)
            else:
                x = batch.astype(np.float32)
            x = _fit_shape(x, self.input_shape)
        y = self.y[idx]
        if self.mixup_alpha > 0:
            x, y = mixup(x, y, rng, self.mixup_alpha)
        if self.sample_weight is not None:
            return x, y, self.sample_weight[idx]
        return x, y


def _fit_shape(x: np.ndarray, input_shape: tuple[int, int, int]) -> np.ndarray:
    if x.shape[1:] == tuple(input_shape):
        return x
    from fer.preprocess import fit_to_model

    return fit_to_model(x, input_shape)


# ----------------------------------------------------------------------------------------------
# tf.data path: the same batches as FERSequence, built by TensorFlow's input pipeline.
# ----------------------------------------------------------------------------------------------

def tf_dataset(ds: Dataset, split: str = "train", input_shape: tuple[int, int, int] | None = None,
               batch_size: int = 64, augment: Augment | bool | None = None, seed: int = 0, *,
               mixup_alpha: float = 0.0, shuffle: bool | None = None, labels: str = "onehot",
               class_weight: dict[int, float] | None = None, repeat: bool = False,
               num_parallel_calls: int | None = None, prefetch: int | None = None):
    """The batches of :class:`FERSequence` as a ``tf.data.Dataset`` (same arguments, same order).

    Without augmentation and mixup it yields exactly FERSequence's batches for the same ``seed``:
    the same faces in the same (per-epoch shuffled) order, the same pixels (resizing and gray → RGB
    go through the same :func:`fer.preprocess.fit_to_model`) and the same labels / sample weights.
    Every new iterator over the dataset (every epoch of ``model.fit``) is the next epoch, like
    :meth:`FERSequence.on_epoch_end`: shuffled with the same permutation FERSequence uses.
    ``repeat=True`` instead makes one endless stream of epochs 0, 1, 2, ... (pass
    ``steps_per_epoch=len(FERSequence(...))`` to ``fit``); it saves restarting the pipeline's threads
    every epoch (tens of milliseconds, which matters only for small datasets).

    Augmentation runs as TensorFlow ops on whole batches (one ``ImageProjectiveTransformV3`` call):
    the same :class:`Augment` semantics as :func:`augment_batch` (rotation, shift, zoom about the
    centre, horizontal flip only, brightness / contrast around the image mean, random erasing,
    clipped to ``[0, 255]``), drawn from TensorFlow's stateless generators seeded by
    ``(seed, epoch, batch)``. Its random draws differ from :func:`augment_batch` (another generator)
    and borders are mirrored with the edge pixel repeated (``cv2.BORDER_REFLECT``, not ``_101``).
    Mixup uses Beta(α, α) from two stateless Gamma draws.

    It is not necessarily faster than FERSequence: both do the same work (OpenCV warps of small faces
    are already cheap, and resizing for large inputs goes through the same OpenCV call), and on a small
    CPU TensorFlow's threads compete with Keras' for the same cores. ``python -m fer bench data``
    measures both side by side (``tf_data_vs_fer_sequence`` in ``results/bench_data.json``);
    :class:`FERSequence` remains what :func:`fer.train.train` uses.

    Args:
        ds, split, input_shape, batch_size, augment, mixup_alpha, shuffle, labels, class_weight, seed:
            as for :class:`FERSequence`.
        repeat: endless stream of epochs instead of one epoch per iterator.
        num_parallel_calls: batches prepared in parallel (default ``tf.data.AUTOTUNE``).
        prefetch: batches prefetched (default ``tf.data.AUTOTUNE``).

    Returns:
        A ``tf.data.Dataset`` of ``(x, y)`` or ``(x, y, sample_weight)``; ``x`` float32
        ``batch x H x W x C`` pixels in ``[0, 255]``, ``y`` float32 one-hot or soft labels. Its
        cardinality is the number of batches per epoch (``len(FERSequence(...))``), or infinite
        with ``repeat=True``.

    Raises:
        ValueError: a missing split (naming the present ones), ``labels`` not ``"onehot"``/``"soft"``,
            ``labels="soft"`` without soft labels, or ``batch_size < 1``.
    """
    import tensorflow as tf

    from fer.preprocess import model_input_shape

    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    # FERSequence checks split / labels / soft labels and builds y and the sample weights; reuse them.
    seq = FERSequence(ds, split, input_shape, batch_size, augment=augment, mixup_alpha=mixup_alpha,
                      shuffle=shuffle, labels=labels, class_weight=class_weight, seed=seed)
    stored = tuple(seq.images.shape[1:])
    height, width, channels = model_input_shape(seq.input_shape)
    target = (stored[0] if height is None else int(height), stored[1] if width is None else int(width), channels)
    aug = seq.augment
    n = len(seq.images)
    bs = seq.batch_size
    autotune = tf.data.AUTOTUNE
    with tf.device("/CPU:0"):
        images = tf.constant(seq.images)
        y_all = tf.constant(seq.y)
        sw_all = None if seq.sample_weight is None else tf.constant(seq.sample_weight)

    counter = _EpochOrders(seq)

    def epoch_batches(_):
        epoch, order = tf.numpy_function(counter.next, [], [tf.int64, tf.int64], stateful=True)
        epoch = tf.ensure_shape(epoch, [])
        order = tf.ensure_shape(order, [n])
        batches = tf.data.Dataset.from_tensor_slices(order).batch(bs).enumerate()
        return batches.map(lambda i, idx: (epoch, i, idx))

    def make_batch(epoch, index, idx):
        key = tf.random.experimental.stateless_fold_in(tf.stack([tf.constant(seq.seed, tf.int64), epoch]), index)
        aug_key, mix_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
        x = tf.cast(tf.gather(images, idx), tf.float32)
        if aug is not None:
            x = augment_batch_tf(x, aug_key, aug)
        x = _fit_shape_tf(x, stored, target)
        y = tf.gather(y_all, idx)
        if seq.mixup_alpha > 0:
            x, y = _mixup_tf(x, y, mix_key, seq.mixup_alpha)
        if sw_all is not None:
            return x, y, tf.gather(sw_all, idx)
        return x, y

    epochs = tf.data.Dataset.range(1)
    out = (epochs.repeat() if repeat else epochs).flat_map(epoch_batches)
    out = out.map(make_batch, num_parallel_calls=autotune if num_parallel_calls is None else num_parallel_calls,
                  deterministic=True)
    if not repeat:
        out = out.apply(tf.data.experimental.assert_cardinality(len(seq)))
    return out.prefetch(autotune if prefetch is None else prefetch)


class _EpochOrders:
    """Hands out FERSequence's face order for epoch 0, 1, 2, ... (one call per new iterator)."""

    def __init__(self, seq: FERSequence) -> None:
        self.seq = seq
        self.epoch = -1

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        self.epoch += 1
        self.seq.epoch = self.epoch
        return np.int64(self.epoch), self.seq._make_order().astype(np.int64)


def augment_batch_tf(x, key, aug: Augment):
    """:func:`augment_batch` in TensorFlow ops: float32 batch ``N x H x W x C`` → augmented float32 batch.

    Args:
        x: float32 tensor of pixels in ``[0, 255]``.
        key: a stateless seed, int tensor of shape ``[2]``; the same key gives the same output.
        aug: the settings.
    """
    import tensorflow as tf

    n = tf.shape(x)[0]
    h, w = int(x.shape[1]), int(x.shape[2])
    keys = tf.unstack(tf.random.experimental.stateless_split(key, 10))

    def uniform(k: int, lo: float, hi: float, shape=None):
        return tf.random.stateless_uniform(tf.stack([n]) if shape is None else shape, keys[k], lo, hi)

    angles = uniform(0, -aug.rotation, aug.rotation)
    scales = 1.0 + uniform(1, -aug.zoom, aug.zoom)
    shifts = uniform(2, -aug.shift, aug.shift, tf.stack([n, 2])) * tf.constant([w, h], tf.float32)
    flips = uniform(3, 0.0, 1.0) < 0.5 if aug.flip else tf.zeros(tf.stack([n]), tf.bool)
    x = warp_tf(x, angles, scales, shifts, flips)
    gains = 1.0 + uniform(4, -aug.brightness, aug.brightness)
    contrasts = 1.0 + uniform(5, -aug.contrast, aug.contrast)
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = (x - mean) * contrasts[:, None, None, None] + mean * gains[:, None, None, None]
    if aug.erase > 0:
        erase = uniform(6, 0.0, 1.0) < aug.erase
        size = uniform(7, 0.15, 0.4, tf.stack([n, 2]))
        eh = tf.floor(size[:, 0] * h)
        ew = tf.floor(size[:, 1] * w)
        corner = uniform(8, 0.0, 1.0, tf.stack([n, 2]))
        y0 = tf.floor(corner[:, 0] * (h - eh + 1))
        x0 = tf.floor(corner[:, 1] * (w - ew + 1))
        value = uniform(9, 0.0, 255.0)
        rows = tf.range(h, dtype=tf.float32)[None, :, None]
        cols = tf.range(w, dtype=tf.float32)[None, None, :]
        inside = ((rows >= y0[:, None, None]) & (rows < (y0 + eh)[:, None, None])
                  & (cols >= x0[:, None, None]) & (cols < (x0 + ew)[:, None, None]) & erase[:, None, None])
        x = tf.where(inside[..., None], value[:, None, None, None], x)
    return tf.clip_by_value(x, 0.0, 255.0)


def warp_tf(x, angles, scales, shifts, flips):
    """Per-image affine warp as ``augment_batch`` does it with OpenCV, in one TensorFlow op.

    Image ``i`` is mirrored left-right when ``flips[i]``, then rotated by ``angles[i]`` degrees
    (counter-clockwise, as ``cv2.getRotationMatrix2D``) and scaled by ``scales[i]`` about the centre
    ``(W/2, H/2)``, then translated by ``shifts[i] = (dx, dy)`` pixels; bilinear, mirrored borders.
    """
    import tensorflow as tf

    h, w = int(x.shape[1]), int(x.shape[2])
    cx, cy = w / 2.0, h / 2.0
    theta = angles * (np.pi / 180.0)
    a = scales * tf.cos(theta)
    b = scales * tf.sin(theta)
    tx = (1.0 - a) * cx - b * cy + shifts[:, 0]
    ty = b * cx + (1.0 - a) * cy + shifts[:, 1]
    s2 = scales * scales
    # inverse of the forward map [[a, b, tx], [-b, a, ty]]: output pixel -> input pixel
    r0 = tf.stack([a / s2, -b / s2, (-a * tx + b * ty) / s2], axis=1)
    r1 = tf.stack([b / s2, a / s2, (-b * tx - a * ty) / s2], axis=1)
    # a flip before the warp reads input column W-1-x
    r0 = tf.where(flips[:, None], tf.constant([0.0, 0.0, w - 1.0]) - r0, r0)
    zeros = tf.zeros_like(r0[:, :2])
    transforms = tf.concat([r0, r1, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=transforms, output_shape=tf.constant([h, w], tf.int32),
        fill_value=tf.constant(0.0), interpolation="BILINEAR", fill_mode="REFLECT")


def _fit_shape_tf(x, stored: tuple[int, int, int], target: tuple[int, int, int]):
    """:func:`fer.preprocess.fit_to_model` inside the graph (the same OpenCV code, so the same pixels)."""
    import tensorflow as tf

    if tuple(stored) == tuple(target):
        return x
    from fer.preprocess import fit_to_model

    out = tf.numpy_function(lambda batch: fit_to_model(batch, target), [x], tf.float32, stateful=False)
    return tf.ensure_shape(out, [None, *target])


def _mixup_tf(x, y, key, alpha: float):
    """Mixup with Beta(α, α) = G1 / (G1 + G2), G ~ Gamma(α), and a stateless random partner."""
    import tensorflow as tf

    k1, k2, k3 = tf.unstack(tf.random.experimental.stateless_split(key, 3))
    n = tf.stack([tf.shape(x)[0]])
    g1 = tf.random.stateless_gamma(n, k1, alpha)
    g2 = tf.random.stateless_gamma(n, k2, alpha)
    lam = g1 / tf.maximum(g1 + g2, 1e-12)
    perm = tf.argsort(tf.random.stateless_uniform(n, k3))
    lx = lam[:, None, None, None]
    ly = lam[:, None]
    return lx * x + (1 - lx) * tf.gather(x, perm), ly * y + (1 - ly) * tf.gather(y, perm)
