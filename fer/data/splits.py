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
