"""The in-memory dataset type every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fer.labels import EMOTIONS

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass
class Dataset:
    """Faces, labels and provenance held in memory.

    Attributes:
        images: ``uint8`` array ``N x H x W x C`` (C is 1 for grayscale, 3 for RGB).
        labels: ``int`` array ``N`` with indices into ``classes``.
        split: array ``N`` of ``"train"``, ``"val"`` or ``"test"``.
        source: array ``N`` naming the dataset each row came from (``"fer2013"``, ``"ckplus"``, ...).
        origin: array ``N`` with the row's original index or file name, for tracing a face back.
        classes: the class names, in label order (default :data:`fer.labels.EMOTIONS`).
        soft_labels: optional ``float32`` array ``N x K`` of label distributions (FER+ votes).
        groups: optional array ``N`` of group ids (CK+ subject) for group-aware splitting.
    """

    images: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    source: np.ndarray
    origin: np.ndarray
    classes: tuple[str, ...] = EMOTIONS
    soft_labels: np.ndarray | None = None
    groups: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 N x H x W x C, got {self.images.dtype} {self.images.shape}")
        for name in ("labels", "split", "source", "origin", "soft_labels", "groups"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} rows but images has {n}")
        self.classes = tuple(self.classes)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def splits(self) -> list[str]:
        """The splits present, in train/val/test order."""
        present = set(np.unique(self.split).tolist())
        return [s for s in SPLITS if s in present] + sorted(present - set(SPLITS))

    def select(self, mask: np.ndarray) -> Dataset:
        """Rows where ``mask`` is true (boolean mask or index array), as a new Dataset."""
        def take(a):
            return None if a is None else a[mask]
        return Dataset(self.images[mask], self.labels[mask], self.split[mask], self.source[mask],
                       self.origin[mask], self.classes, take(self.soft_labels), take(self.groups), dict(self.meta))

    def subset(self, split: str) -> Dataset:
        """The rows of one split.

        Raises:
            ValueError: when the split has no rows, naming the splits that exist.
        """
        mask = self.split == split
        if not mask.any():
            raise ValueError(
                f"split {split!r} is empty in this {self.meta.get('name', 'dataset')}; "
                f"present splits: {self.splits()}. Pick one of those or split the data first."
            )
        return self.select(mask)

    def sample(self, split: str, n: int, seed: int = 0) -> Dataset:
        """Keep a class-stratified random ``n`` rows of ``split`` and every row of the other splits.

        Each class keeps its share of the split (at least one row when it has any), so a small
        sample of FER2013 still contains *disgust*.
        """
        rows = np.flatnonzero(self.split == split)
        if n >= len(rows):
            return self
        rng = np.random.default_rng(seed)
        keep = []
        labels = self.labels[rows]
        for c in np.unique(labels):
            members = rows[labels == c]
            take = max(1, int(round(n * len(members) / len(rows))))
            keep.append(rng.choice(members, size=min(take, len(members)), replace=False))
        mask = self.split != split
        mask[np.concatenate(keep)] = True
        return self.select(mask)

    def counts(self) -> dict[str, int]:
        """Number of rows per class name."""
        c = np.bincount(self.labels, minlength=self.num_classes)
        return {name: int(c[i]) for i, name in enumerate(self.classes)}

    def __repr__(self) -> str:
        per_split = {s: int((self.split == s).sum()) for s in self.splits()}
        return (f"Dataset({len(self)} faces {self.image_shape}, {self.num_classes} classes, "
                f"splits={per_split}, sources={sorted(set(self.source.tolist()))})")
