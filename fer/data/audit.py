"""Dataset audit: split overlap (exact / near duplicates), duplicates inside splits, label conflicts, class balance.

Run on the real data (writes JSON + PNG, recording command, paths, splits and date)::

    python -m fer audit --fer2013 ../shared/data/fer2013/fer2013.csv.gz \\
        --ferplus ../shared/data/ferplus/fer2013new.csv --ckplus ../shared/data/ckplus/CK+48 \\
        --out results/merge_audit.json
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fer.data.atomic import write_json
from fer.data.dataset import SPLITS, Dataset
from fer.data.merge import NEAR_CORRELATION, NEAR_THRESHOLD, class_counts, components, find_duplicates
from fer.environment import versions

#: Split pairs audited: (first, second) → how many faces of *second* also occur in *first*.
SPLIT_PAIRS: tuple[tuple[str, str], ...] = (("train", "val"), ("train", "test"), ("val", "test"))
MAX_EXAMPLES = 20


def audit(
    ds: Dataset, near_threshold: int | None = NEAR_THRESHOLD, near_correlation: float = NEAR_CORRELATION,
    *, out: str | os.PathLike | None = None,
) -> dict:
    """Audit one dataset (a reader's output or a :func:`fer.data.merge` result).

    Args:
        ds: the dataset.
        near_threshold, near_correlation: the near-duplicate rule (see :func:`fer.data.hashing.duplicate_pairs`).
        out: also write the report there as JSON (atomically: temporary file, then rename).

    Returns:
        A JSON-ready dict with

        * ``rows``, ``splits`` (rows per split), ``class_counts`` (``{split: {class: rows}}``);
        * ``overlap``: for each split pair ``"train-val"``, ``"train-test"``, ``"val-test"``: how many faces of
          the second split have an ``exact`` copy / a ``near`` copy (exact included) in the first
          (``of`` = rows of the second split, ``near_percent``);
        * ``within_split``: per split, redundant copies (rows beyond the first of each duplicate group);
        * ``label_conflicts``: duplicate groups whose copies carry different labels (``exact`` / ``near``,
          ``changes`` counts label pairs like ``"sad->neutral"``, and a few ``examples``);
        * ``groups_in_several_splits``: with group ids (CK+ subjects), groups that span splits (should be 0);
        * ``merge``: the merge report's summary when ``ds`` comes from :func:`fer.data.merge`.

    Example:
        >>> from fer.data import make_synthetic
        >>> from fer.data.audit import audit, audit_table
        >>> report = audit(make_synthetic(10))
        >>> audit_table(report, "overlap")  # doctest: +SKIP
    """
    exact, near = find_duplicates(ds, near_threshold, near_correlation)
    split = ds.split.astype(str)
    present = [s for s in SPLITS if s in set(split.tolist())]
    report: dict = {
        "rows": len(ds),
        "classes": list(ds.classes),
        "splits": {s: int((split == s).sum()) for s in present},
        "class_counts": class_counts(ds),
        "near_duplicate_rule": {"dhash_bits": near_threshold, "thumbnail_correlation": near_correlation},
        "overlap": {},
        "within_split": {},
    }
    for first, second in SPLIT_PAIRS:
        if first not in present or second not in present:
            continue
        entry = {"of": report["splits"][second]}
        for kind, pairs in (("exact", exact), ("near", near)):
            entry[kind] = _rows_with_copy_in(pairs, split, inside=second, other=first)
        entry["near_percent"] = round(100 * entry["near"] / max(entry["of"], 1), 2)
        report["overlap"][f"{first}-{second}"] = entry
    for s in present:
        entry = {}
        for kind, pairs in (("exact", exact), ("near", near)):
            inside = pairs[(split[pairs[:, 0]] == s) & (split[pairs[:, 1]] == s)] if len(pairs) else pairs
            comp = components(len(ds), inside)
            rows_in_split = np.flatnonzero(split == s)
            entry[kind] = int(len(rows_in_split) - len(np.unique(comp[rows_in_split])))
        report["within_split"][s] = entry
    report["label_conflicts"] = {kind: _conflicts(ds, pairs) for kind, pairs in (("exact", exact), ("near", near))}
    if ds.groups is not None:
        groups = ds.groups.astype(str)
        spans = pd.Series(split).groupby(groups).nunique()
        spans = spans[spans.index != ""]
        report["groups"] = int(len(spans))
        report["groups_in_several_splits"] = int((spans > 1).sum())
    if "merge" in ds.meta:
        m = ds.meta["merge"]
        report["merge"] = {k: v for k, v in m.items() if k not in ("removed", "conflicts")}
        report["merge"]["removed_examples"] = m["removed"][:MAX_EXAMPLES]
        report["merge"]["conflict_examples"] = m["conflicts"][:MAX_EXAMPLES]
    if out is not None:
        write_json(report, out)
    return report


def _rows_with_copy_in(pairs: np.ndarray, split: np.ndarray, inside: str, other: str) -> int:
    """Number of rows of split ``inside`` that are paired with at least one row of split ``other``."""
    if len(pairs) == 0:
        return 0
    a, b = split[pairs[:, 0]], split[pairs[:, 1]]
    rows = np.concatenate([pairs[(a == inside) & (b == other), 0], pairs[(b == inside) & (a == other), 1]])
    return int(len(np.unique(rows)))


def _conflicts(ds: Dataset, pairs: np.ndarray) -> dict:
    """Duplicate groups (connected by ``pairs``) whose rows have more than one label."""
    comp = components(len(ds), pairs)
    df = pd.DataFrame({"comp": comp, "label": ds.labels})
    n_labels = df.groupby("comp")["label"].nunique()
    bad = n_labels.index[n_labels > 1]
    pair_labels = ds.labels[pairs] if len(pairs) else np.zeros((0, 2), dtype=int)
    differ = pair_labels[:, 0] != pair_labels[:, 1]
    changes: dict[str, int] = {}
    for a, b in pair_labels[differ]:
        key = "->".join(sorted((ds.classes[a], ds.classes[b])))
        changes[key] = changes.get(key, 0) + 1
    examples = []
    for c in bad[:MAX_EXAMPLES]:
        rows = np.flatnonzero(comp == c)
        examples.append([{"source": str(ds.source[r]), "origin": str(ds.origin[r]), "split": str(ds.split[r]),
                          "label": ds.classes[ds.labels[r]]} for r in rows])
    return {"groups": int(len(bad)), "rows": int(df["comp"].isin(bad).sum()), "pairs": int(differ.sum()),
            "changes": dict(sorted(changes.items(), key=lambda kv: -kv[1])), "examples": examples}


def audit_table(report: dict, table: str = "overlap") -> pd.DataFrame:
    """A table from an :func:`audit` report.

    Args:
        report: the audit dict.
        table: ``"overlap"`` (one row per split pair: exact, near, of, near_percent), ``"classes"`` (class
            × split counts, plus ``before_merge`` columns when the report has a merge) or ``"within"``
            (redundant copies per split).
    """
    if table == "overlap":
        return pd.DataFrame.from_dict(report["overlap"], orient="index",
                                      columns=["exact", "near", "of", "near_percent"])
    if table == "within":
        return pd.DataFrame.from_dict(report["within_split"], orient="index")
    if table == "classes":
        df = pd.DataFrame(report["class_counts"]).reindex(report["classes"])
        if "merge" in report:
            before = pd.DataFrame(report["merge"]["class_counts_before"]).reindex(report["classes"])
            df = df.join(before.add_suffix(" before merge"))
        return df.fillna(0).astype(int)
    raise ValueError(f"table must be 'overlap', 'classes' or 'within', got {table!r}")


def plot_audit(report: dict, before: dict | None = None, title: str | None = None):
    """Bar plots of an :func:`audit` report: class counts per split and split overlap.

    Args:
        report: the audit of a dataset (for a merge result, class counts before dedup are drawn hatched).
        before: optionally the audit of the same data before dedup (``merge(..., dedup=False)``); its
            overlap is drawn next to ``report``'s.
        title: figure title.

    Returns:
        A matplotlib Figure (not shown; save it with ``fig.savefig``).
    """
    import matplotlib.pyplot as plt

    classes = audit_table(report, "classes")
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [2.2, 1]})
    splits = [c for c in classes.columns if not c.endswith(" before merge")]
    colors = dict(zip(SPLITS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    x = np.arange(len(classes))
    width = 0.8 / max(len(classes.columns), 1)
    k = 0
    for split in splits:
        for col, hatch in ((f"{split} before merge", "//"), (split, None)):
            if col not in classes.columns:
                continue
            axes[0].bar(x + k * width - 0.4 + width / 2, classes[col], width, color=colors.get(split),
                        hatch=hatch, alpha=0.45 if hatch else 1.0,
                        label=f"{split} (before dedup)" if hatch else split)
            k += 1
    axes[0].set_xticks(x, classes.index, rotation=30)
    axes[0].set_ylabel("faces")
    axes[0].set_title("class counts per split")
    axes[0].legend(fontsize=8, ncols=2)

    after = audit_table(report, "overlap")
    bars = [("after", after)] if before is None else [("before dedup", audit_table(before, "overlap")),
                                                       ("after dedup", after)]
    names = list(dict.fromkeys([i for _, t in bars for i in t.index]))
    y = np.arange(len(names))
    h = 0.8 / (2 * len(bars))
    j = 0
    for tag, table in bars:
        table = table.reindex(names).fillna(0)
        for kind in ("exact", "near"):
            label = f"{kind} copy{' (incl. exact)' if kind == 'near' else ''}" + ("" if before is None else f", {tag}")
            axes[1].barh(y - 0.4 + (j + 0.5) * h, table[kind], h, label=label)
            if kind == "near":
                for yi, (n, pct) in enumerate(zip(table["near"], table["near_percent"])):
                    axes[1].text(n, yi - 0.4 + (j + 0.5) * h, f" {pct:.1f}%", va="center", fontsize=7)
            j += 1
    axes[1].set_yticks(y, [f"{k.split('-')[1]} faces\nwith a copy in {k.split('-')[0]}" for k in names])
    axes[1].invert_yaxis()
    axes[1].legend(fontsize=7)
    axes[1].set_xlabel("faces")
    axes[1].set_title("split overlap (exact / near duplicates)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def label_agreement(a: Dataset, b: Dataset) -> dict:
    """Agreement of two labelings of the same faces, matched by ``origin`` (FER2013 vs FER+ row index).

    Both datasets must use the same class names for shared classes; rows only in one are ignored.
    """
    ia = pd.Series(np.arange(len(a)), index=a.origin.astype(str))
    ib = pd.Series(np.arange(len(b)), index=b.origin.astype(str))
    common = ia.index.intersection(ib.index)
    la = np.array([a.classes[i] for i in a.labels[ia[common].to_numpy()]])
    lb = np.array([b.classes[i] for i in b.labels[ib[common].to_numpy()]])
    table = pd.crosstab(pd.Series(la, name="first"), pd.Series(lb, name="second"))
    return {"rows_compared": int(len(common)), "same_label": int((la == lb).sum()),
            "same_label_percent": round(100 * float((la == lb).mean()), 2) if len(common) else 0.0,
            "confusion": {r: {c: int(v) for c, v in row.items()} for r, row in table.iterrows()}}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fer.data.audit ARGS``, the old name of ``python -m fer audit ARGS`` (results/merge_audit.json
    records it); the command recorded is the one typed."""

    from fer.cli import main as cli_main

    if argv is None:
        return cli_main(["audit", *sys.argv[1:]])
    return cli_main(["audit", *argv], command=shlex.join(["python", "-m", "fer.data.audit", *map(str, argv)]))


def run_audit(
    fer2013: Path | None, ferplus: Path | None, ckplus: Path | None, *, contempt: str = "drop",
    near_threshold: int = NEAR_THRESHOLD, near_correlation: float = NEAR_CORRELATION,
    ckplus_val: float = 0.15, ckplus_test: float = 0.15, seed: int = 0, command: str | None = None,
) -> dict:
    """Load the given datasets, audit each and their merge; return the JSON-ready report (``python -m fer audit``).

    ``command``: the command line the report records (default: this process's).

    Example:
        >>> report = run_audit(Path("fer2013.csv.gz"), None, Path("CK+48"))  # doctest: +SKIP
        >>> report["merged"]["overlap"]  # doctest: +SKIP
    """
    from fer.data.ckplus import load_ckplus
    from fer.data.fer2013 import load_fer2013_csv
    from fer.data.ferplus import load_ferplus
    from fer.data.merge import merge
    from fer.data.splits import split_by_group
    from fer.provenance import command_line

    t0 = time.time()
    kw = {"near_threshold": near_threshold, "near_correlation": near_correlation}
    report: dict = {
        "command": command or command_line(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": versions("python", "numpy"),
        "datasets": {},
        "params": {"contempt": contempt, **kw, "ckplus_split": {"val": ckplus_val, "test": ckplus_test,
                                                                 "seed": seed, "by": "subject"}},
    }
    to_merge = []
    if fer2013:
        fer = load_fer2013_csv(fer2013)
        report["datasets"]["fer2013"] = {"path": str(fer2013), "rows": len(fer), "splits": _splits(fer),
                                         "split_rule": "Usage: Training=train, PublicTest=val, PrivateTest=test"}
        report["fer2013"] = audit(fer, **kw)
        images_ds = fer
    if ferplus:
        plus = load_ferplus(fer2013, ferplus, mode="majority", classes="ferplus")
        report["datasets"]["ferplus"] = {"path": str(ferplus), "images": str(fer2013), "mode": "majority",
                                         "rows": len(plus), "splits": _splits(plus),
                                         "dropped": plus.meta["dropped"]}
        report["ferplus"] = audit(plus, **kw)
        report["fer2013_vs_ferplus_labels"] = label_agreement(fer, plus)
        images_ds = plus
    if fer2013:
        to_merge.append(images_ds)
    if ckplus:
        ck = split_by_group(load_ckplus(ckplus), val=ckplus_val, test=ckplus_test, seed=seed)
        report["datasets"]["ckplus"] = {"path": str(ckplus), "rows": len(ck), "splits": _splits(ck),
                                        "split_rule": f"by subject, val={ckplus_val}, test={ckplus_test}, seed={seed}",
                                        "subjects": len(set(ck.groups.tolist()))}
        report["ckplus"] = audit(ck, **kw)
        to_merge.append(ck)
    report["merged_before_dedup"] = audit(merge(to_merge, contempt=contempt, dedup=False), **kw)
    merged = merge(to_merge, contempt=contempt, **kw)
    report["merged_from"] = [("ferplus (FER2013 faces, FER+ majority labels)" if d is not None and ferplus
                              and d.source[0] == "ferplus" else str(d.source[0])) for d in to_merge]
    report["merged"] = audit(merged, **kw)
    report["seconds"] = round(time.time() - t0, 1)
    return report


def _splits(ds: Dataset) -> dict[str, int]:
    return {s: int((ds.split == s).sum()) for s in ds.splits()}


if __name__ == "__main__":
    raise SystemExit(main())
