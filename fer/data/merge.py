"""Merging datasets into the 7 FER2013 emotions, with provenance and duplicate removal across splits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fer.data.dataset import SPLITS, Dataset
from fer.data.ferplus import parse_contempt
from fer.data.folders import class_key
from fer.data.hashing import duplicate_pairs, exact_keys
from fer.data.images import check_size, convert_color, resize_images
from fer.labels import EMOTIONS

#: Which copy of a duplicate survives: the one in the split that matters most for evaluation.
SPLIT_PRIORITY: dict[str, int] = {"train": 0, "val": 1, "test": 2}
#: Defaults of the near-duplicate test (see :func:`fer.data.hashing.duplicate_pairs`).
NEAR_THRESHOLD = 8
NEAR_CORRELATION = 0.93


def find_duplicates(
    ds: Dataset, near_threshold: int | None = NEAR_THRESHOLD, near_correlation: float = NEAR_CORRELATION,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact and near-duplicate row pairs of ``ds`` (``P x 2`` arrays, ``near`` includes ``exact``).

    Near (not exact) pairs of two rows that both carry a group id (CK+ subjects) are not counted:
    frames of one subject are near-identical by design and aligned lab faces of different subjects
    look alike at thumbnail size; :func:`fer.data.split_by_group` keeps subjects apart instead.
    """
    exact, near = duplicate_pairs(ds.images, near_threshold, near_correlation)
    if ds.groups is not None and len(near):
        has_group = np.array([g not in ("", "None") for g in ds.groups.astype(str)])
        exact_set = set(map(tuple, exact.tolist()))
        is_exact = np.array([p in exact_set for p in map(tuple, near.tolist())], dtype=bool)
        near = near[is_exact | ~(has_group[near[:, 0]] & has_group[near[:, 1]])]
    return exact, near


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component id per row for an undirected graph given by ``pairs``."""
    if len(pairs) == 0:
        return np.arange(n)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def harmonize(
    ds: Dataset, contempt: str = "drop", size: int | tuple[int, int] = 48, color: str = "grayscale",
) -> tuple[Dataset, dict]:
    """Map ``ds`` to the 7 :data:`~fer.labels.EMOTIONS` at a common image shape.

    Classes are matched by canonical name; ``contempt`` rows are dropped or relabelled
    (``"map:<emotion>"``); classes outside the 7 emotions and contempt (``pain``...) are dropped.

    Returns:
        The converted dataset and a report ``{"dropped_classes": {name: rows}, "contempt": ..., "rows_in": n}``.
    """
    target = parse_contempt(contempt)
    hw = check_size(size)
    class_map = np.full(len(ds.classes), -1, dtype=np.int64)
    dropped: dict[str, int] = {}
    counts = ds.counts()
    for i, name in enumerate(ds.classes):
        key = class_key(name)
        if key in EMOTIONS:
            class_map[i] = EMOTIONS.index(key)
        elif key == "contempt" and target is not None:
            class_map[i] = target
        elif counts[name]:
            dropped[name] = counts[name]
    keep = class_map[ds.labels] >= 0
    sub = ds.select(keep)
    soft = None
    if sub.soft_labels is not None:
        soft = np.zeros((len(sub), len(EMOTIONS)), dtype=np.float32)
        for i, j in enumerate(class_map):
            if j >= 0:
                soft[:, j] += sub.soft_labels[:, i]
        total = soft.sum(axis=1, keepdims=True)
        one_hot = np.eye(len(EMOTIONS), dtype=np.float32)[class_map[sub.labels]]
        soft = np.where(total > 0, soft / np.maximum(total, 1e-12), one_hot)  # no mass left: use the label
    images = resize_images(convert_color(sub.images, color), hw)
    groups = None if sub.groups is None else sub.groups.astype(str)
    out = Dataset(images, class_map[sub.labels], sub.split.astype(str), sub.source.astype(str),
                  sub.origin.astype(str), EMOTIONS, soft, groups, dict(sub.meta))
    return out, {"rows_in": len(ds), "rows_out": len(out), "dropped_classes": dropped,
                 "contempt": contempt if counts.get("contempt", 0) else "absent"}


def merge(
    datasets: Sequence[Dataset],
    contempt: str = "drop",
    dedup: bool = True,
    near_threshold: int | None = NEAR_THRESHOLD,
    *,
    near_correlation: float = NEAR_CORRELATION,
    dedup_eval: bool = False,
    size: int | tuple[int, int] = 48,
    color: str = "grayscale",
) -> Dataset:
    """Combine datasets into one 7-emotion dataset and remove duplicates without touching evaluation splits.

    Every row keeps its ``source`` and ``origin`` (and ``groups``, ``""`` where a dataset has none).
    With ``dedup``, exact duplicates (identical pixels after conversion) and near duplicates (see
    :func:`find_duplicates`) are grouped; in each duplicate group:

    * copies in a *lower* split than the group's highest one (train < val < test) are removed — a train
      copy of a val/test face is dropped, a val copy of a test face is dropped (evaluation splits intact);
    * within the highest split, if it is train (or ``dedup_eval``), only the first copy is kept;
      duplicates inside val or test are kept by default (so published splits stay comparable) and counted;
    * groups whose copies carry different labels are reported as label conflicts (the kept copy keeps its label).

    Args:
        datasets: the datasets (any classes named by :func:`fer.labels.canonical`, any image shape).
        contempt: ``"drop"`` or ``"map:<emotion>"`` for a contempt class.
        dedup: remove duplicates as above (``False`` only concatenates and converts).
        near_threshold: dHash radius for near duplicates; ``None`` removes exact duplicates only.
        near_correlation: minimum 16x16 thumbnail correlation of a near duplicate.
        dedup_eval: also collapse duplicates inside val and inside test.
        size: common image size (side or ``(height, width)``), default 48x48.
        color: ``"grayscale"`` (default) or ``"rgb"``.

    Returns:
        The merged Dataset; ``meta["merge"]`` records per-source rows in/out, dropped classes, class
        counts per split before and after dedup, removed rows by reason (with the copy they duplicate)
        and label conflicts.

    Example:
        >>> from fer.data import load_ckplus, load_fer2013_csv, merge, split_by_group
        >>> ck = split_by_group(load_ckplus("CK+48"), val=0.15, test=0.15)  # doctest: +SKIP
        >>> merged = merge([load_fer2013_csv("fer2013.csv.gz"), ck])  # doctest: +SKIP
        >>> merged.meta["merge"]["removed_by_reason"]  # doctest: +SKIP
    """
    if not datasets:
        raise ValueError("merge needs at least one dataset")
    parts, per_source = [], {}
    for ds in datasets:
        part, info = harmonize(ds, contempt, size, color)
        parts.append(part)
        name = ",".join(sorted(set(ds.source.astype(str).tolist()))) or ds.meta.get("name", "dataset")
        info["path"] = ds.meta.get("path")
        per_source[name] = info
    any_soft = any(p.soft_labels is not None for p in parts)
    any_groups = any(p.groups is not None for p in parts)
    eye = np.eye(len(EMOTIONS), dtype=np.float32)
    merged = Dataset(
        images=np.concatenate([p.images for p in parts]),
        labels=np.concatenate([p.labels for p in parts]),
        split=np.concatenate([p.split for p in parts]),
        source=np.concatenate([p.source for p in parts]),
        origin=np.concatenate([p.origin for p in parts]),
        classes=EMOTIONS,
        soft_labels=np.concatenate([p.soft_labels if p.soft_labels is not None else eye[p.labels] for p in parts])
        if any_soft else None,
        groups=np.concatenate([p.groups if p.groups is not None else np.full(len(p), "") for p in parts])
        if any_groups else None,
        meta={"name": "merged"},
    )
    report: dict = {"sources": per_source, "contempt": contempt, "dedup": dedup,
                    "near_threshold": near_threshold, "near_correlation": near_correlation,
                    "dedup_eval": dedup_eval, "size": list(check_size(size)), "color": color,
                    "class_counts_before": class_counts(merged)}
    keep = np.ones(len(merged), dtype=bool)
    removed: list[dict] = []
    conflicts: list[list[dict]] = []
    kept_eval = {"val": 0, "test": 0}
    if dedup:
        exact, near = find_duplicates(merged, near_threshold, near_correlation)
        comp = components(len(merged), near)
        keys = exact_keys(merged.images)
        priority = np.array([SPLIT_PRIORITY.get(s, 0) for s in merged.split])
        order = np.argsort(comp, kind="stable")
        starts = np.flatnonzero(np.r_[True, comp[order][1:] != comp[order][:-1]])
        for members in np.split(order, starts[1:]):
            if len(members) < 2:
                continue
            best = priority[members].max()
            top = members[priority[members] == best]
            best_split = merged.split[top[0]]
            if best == 0 or dedup_eval:
                survivors, extra = top[:1], top[1:]
            else:
                survivors, extra = top, top[:0]
                kept_eval[best_split] += len(top) - 1
            for r in np.concatenate([members[priority[members] < best], extra]):
                keep[r] = False
                twin = survivors[0]
                reason = ("within_split" if merged.split[r] == best_split
                          else f"{merged.split[r]}_copy_of_{best_split}")
                removed.append({"row": int(r), "source": str(merged.source[r]), "origin": str(merged.origin[r]),
                                "split": str(merged.split[r]), "label": EMOTIONS[merged.labels[r]],
                                "reason": reason, "kind": "exact" if keys[r] == keys[twin] else "near",
                                "duplicate_of": {"source": str(merged.source[twin]),
                                                 "origin": str(merged.origin[twin]),
                                                 "split": str(merged.split[twin]),
                                                 "label": EMOTIONS[merged.labels[twin]]}})
            if len(set(merged.labels[members].tolist())) > 1:
                conflicts.append([{"source": str(merged.source[m]), "origin": str(merged.origin[m]),
                                   "split": str(merged.split[m]), "label": EMOTIONS[merged.labels[m]],
                                   "kept": bool(keep[m])} for m in members])
    out = merged.select(keep)
    reasons: dict[str, dict[str, int]] = {}
    cross_source: dict[str, int] = {}
    for r in removed:
        reasons.setdefault(r["reason"], {"exact": 0, "near": 0})[r["kind"]] += 1
        if r["source"] != r["duplicate_of"]["source"]:
            key = f"{r['source']}_copy_of_{r['duplicate_of']['source']}"
            cross_source[key] = cross_source.get(key, 0) + 1
    report.update({
        "rows_in": len(merged), "rows_out": len(out),
        "removed_by_reason": reasons,
        "removed_across_sources": cross_source,
        "duplicates_kept_within_eval": kept_eval,
        "label_conflicts": len(conflicts),
        "class_counts_after": class_counts(out),
        "rows_out_per_source": {s: int((out.source == s).sum()) for s in sorted(set(out.source.tolist()))},
        "removed": removed,
        "conflicts": conflicts,
    })
    out.meta = {"name": "merged", "merge": report}
    return out


def class_counts(ds: Dataset) -> dict[str, dict[str, int]]:
    """``{split: {class: rows}}`` for the splits present (train, val, test order)."""
    out = {}
    for split in [s for s in SPLITS if s in set(ds.split.tolist())]:
        counts = np.bincount(ds.labels[ds.split == split], minlength=ds.num_classes)
        out[split] = {name: int(counts[i]) for i, name in enumerate(ds.classes)}
    return out
