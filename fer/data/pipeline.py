"""Batches for training: a ``keras.utils.PyDataset`` with face-safe augmentation, mixup and class weights."""

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
    gains = 1.0 + rng.uniform(-aug.brightness, aug.brightness, n)
    contrasts = 1.0 + rng.uniform(-aug.contrast, aug.contrast, n)
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
                raise ValueError("labels='soft' needs a dataset with soft_labels (e.g. load_ferplus(mode='probability'))")
            self.y = part.soft_labels.astype(np.float32)
        elif labels == "onehot":
            self.y = np.eye(ds.num_classes, dtype=np.float32)[part.labels]
        else:
            raise ValueError(f"labels must be 'onehot' or 'soft', got {labels!r}")
        self.images = part.images
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
