"""Assigning train / val / test splits to a dataset that has none (e.g. CK+), by group."""

from __future__ import annotations

import numpy as np

from fer.data.dataset import Dataset


def split_by_group(ds: Dataset, val: float = 0.15, test: float = 0.15, seed: int = 0) -> Dataset:
    """Assign ``"train"`` / ``"val"`` / ``"test"`` so that all rows of one group (CK+ subject) share a split.

    Groups are shuffled with ``seed`` and taken in that order for *test*, then *val*, until each holds
    about its fraction of the **rows** (a group is added while the split is below its target); the rest
    is *train*. A split with a positive fraction gets at least one group when there are at least three groups.

    Args:
        ds: a Dataset with ``groups`` (e.g. from :func:`fer.data.load_ckplus`).
        val: fraction of rows for validation, in ``[0, 1)``.
        test: fraction of rows for test, in ``[0, 1)``; ``val + test < 1``.
        seed: shuffling seed; the same seed gives the same split.

    Returns:
        A new Dataset (same rows and order) with the new ``split``; ``meta["split_by_group"]``
        records the fractions, seed and the groups per split.

    Raises:
        ValueError: ``ds.groups`` is missing, or the fractions are out of range.
    """
    if ds.groups is None:
        raise ValueError(f"{ds.meta.get('name', 'dataset')} has no groups (subject ids) to split by; "
                         "load it with a reader that sets groups (load_ckplus) or set ds.groups.")
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"val={val} and test={test} must be fractions in [0, 1) with val + test < 1")
    groups, inverse, sizes = np.unique(ds.groups.astype(str), return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(groups))
    assign = np.full(len(groups), "train", dtype=object)
    n = len(ds)
    pos = 0
    for name, frac in (("test", test), ("val", val)):
        if frac <= 0:
            continue
        taken = 0
        # take the next group while the split stays nearer its target with it than without it;
        # always leave one group for train
        while pos < len(order) - 1 and (taken == 0 or taken + sizes[order[pos]] / 2 <= frac * n):
            assign[order[pos]] = name
            taken += sizes[order[pos]]
            pos += 1
    split = assign[inverse].astype(str)
    meta = dict(ds.meta)
    meta["split_by_group"] = {
        "val": val, "test": test, "seed": seed,
        "groups": {s: sorted(groups[assign == s].tolist()) for s in ("train", "val", "test")},
    }
    return Dataset(ds.images, ds.labels, split, ds.source, ds.origin, ds.classes, ds.soft_labels, ds.groups, meta)


def _stratified_pick(labels: np.ndarray, units: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask over rows: whole ``units`` (rows, or subjects) drawn class by class so about ``fraction``
    of each class's rows are picked. A unit counts for the class most of its rows have."""
    names, inverse = np.unique(units, return_inverse=True)
    unit_label = np.array([np.bincount(labels[inverse == u]).argmax() for u in range(len(names))])
    unit_size = np.bincount(inverse, minlength=len(names))
    chosen = np.zeros(len(names), dtype=bool)
    for c in np.unique(unit_label):
        members = rng.permutation(np.flatnonzero(unit_label == c))
        target, taken = fraction * unit_size[members].sum(), 0
        for u in members:
            if taken and taken + unit_size[u] / 2 > target:
                break
            chosen[u] = True
            taken += unit_size[u]
            if taken >= target:
                break
    return chosen[inverse]


def carve_validation(ds: Dataset, fraction: float = 0.1, seed: int = 0, from_split: str = "train") -> Dataset:
    """Give a dataset without a ``val`` split one, taken from its training rows (never from ``test``).

    Stratified by class (each class keeps its share), seeded, and grouped by subject when the dataset has
    ``groups`` (CK+: all frames of a subject land on one side). The chosen rows are recorded in
    ``meta["carved_validation"]`` (their indices, the fraction and the seed), so evaluation and a resumed
    run use the same split.

    Args:
        ds: the dataset; must have ``from_split`` rows and no ``val`` rows.
        fraction: share of the training rows that becomes validation, in ``(0, 0.5]``.
        seed: the same seed gives the same split.
        from_split: the split the validation rows come from.

    Returns:
        A new Dataset (same rows and order) with some ``from_split`` rows relabelled ``"val"``.

    Raises:
        ValueError: the fraction is outside ``(0, 0.5]``, the dataset already has ``val``, or has no
            ``from_split`` rows.

    Example:
        >>> from fer.data import make_synthetic
        >>> ds = make_synthetic(20, splits=(0.8, 0.0, 0.2))
        >>> carve_validation(ds, 0.25).counts()["val"]
        28
    """
    if not 0 < fraction <= 0.5:
        raise ValueError(f"--val-split {fraction}: the validation fraction must be in (0, 0.5], e.g. 0.1")
    present = ds.splits()
    if "val" in present:
        raise ValueError(f"{ds.meta.get('name', 'the dataset')} already has a 'val' split; nothing to carve")
    if from_split not in present:
        raise ValueError(f"cannot carve a validation split from {from_split!r}: the dataset has only {present}")
    rows = np.flatnonzero(ds.split == from_split)
    counts = np.bincount(ds.labels[rows], minlength=ds.num_classes)
    lonely = [ds.classes[c] for c in range(ds.num_classes) if counts[c] == 1]
    if lonely:
        raise ValueError(f"class {lonely[0]!r} has only 1 {from_split} face: a validation split needs at least 2 "
                         "faces of each class (one for each side); add faces to that class folder or remove it")
    units = ds.groups[rows].astype(str) if ds.groups is not None else rows.astype(str)
    picked = rows[_stratified_pick(ds.labels[rows], units, fraction, np.random.default_rng(seed))]
    split = ds.split.astype(object).copy()
    split[picked] = "val"
    meta = dict(ds.meta)
    meta["carved_validation"] = {"fraction": fraction, "seed": seed, "from_split": from_split,
                                 "grouped_by": "subject" if ds.groups is not None else None,
                                 "rows": picked.tolist()}
    return Dataset(ds.images, ds.labels, split.astype(str), ds.source, ds.origin, ds.classes, ds.soft_labels,
                   ds.groups, meta)


def resplit(ds: Dataset, fractions: tuple[float, float, float] = (0.7, 0.1, 0.2), seed: int = 0) -> Dataset:
    """Re-split every row into train / val / test with these fractions (``70/10/20``-style, as the sources do).

    Stratified by class, seeded, grouped by subject when the dataset has ``groups``. The published splits
    are discarded, so results are no longer comparable with numbers on them (``meta["resplit"]`` says so).

    Raises:
        ValueError: the fractions are not three non-negative numbers that sum to 1 with train > 0.
    """
    train, val, test = (float(f) for f in fractions)
    if min(train, val, test) < 0 or train <= 0 or abs(train + val + test - 1) > 1e-6:
        raise ValueError(f"--resplit {fractions}: give three fractions train,val,test that sum to 1, e.g. 0.7,0.1,0.2")
    rng = np.random.default_rng(seed)
    rows = np.arange(len(ds))
    units = ds.groups.astype(str) if ds.groups is not None else rows.astype(str)
    split = np.full(len(ds), "train", dtype=object)
    is_test = _stratified_pick(ds.labels, units, test, rng) if test > 0 else np.zeros(len(ds), bool)
    split[is_test] = "test"
    rest = np.flatnonzero(~is_test)
    if val > 0:
        is_val = _stratified_pick(ds.labels[rest], units[rest], val / (train + val), rng)
        split[rest[is_val]] = "val"
    meta = dict(ds.meta)
    meta["resplit"] = {"fractions": [train, val, test], "seed": seed,
                       "grouped_by": "subject" if ds.groups is not None else None,
                       "note": "the published splits were replaced; scores are not comparable with them"}
    return Dataset(ds.images, ds.labels, split.astype(str), ds.source, ds.origin, ds.classes, ds.soft_labels,
                   ds.groups, meta)
