"""Audit of split overlap, duplicates and label conflicts; tables, plot, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fer.data import merge, write_synthetic
from fer.data.audit import audit, audit_table, label_agreement, main, plot_audit
from fer.data.hashing import duplicate_pairs

from .test_merge import planted  # noqa: F401  (fixture)


def test_audit_counts_planted_overlaps(planted):  # noqa: F811
    a, b = planted
    raw = merge([a, b], contempt="map:disgust", dedup=False)
    report = audit(raw)
    assert report["splits"] == {"train": 20, "val": 6, "test": 4}
    assert report["overlap"]["train-val"] == {"of": 6, "exact": 1, "near": 1, "near_percent": 16.67}
    assert report["overlap"]["train-test"] == {"of": 4, "exact": 0, "near": 1, "near_percent": 25.0}
    assert report["overlap"]["val-test"] == {"of": 4, "exact": 1, "near": 1, "near_percent": 25.0}
    assert report["within_split"] == {"train": {"exact": 1, "near": 1}, "val": {"exact": 1, "near": 1},
                                      "test": {"exact": 0, "near": 0}}
    conflicts = report["label_conflicts"]
    assert conflicts["exact"]["groups"] == 3  # a2/a3 (angry, sad), a16/a17 (fear, happy), a18/b8 (sad, fear)
    assert conflicts["near"]["groups"] == 4  # ... and the near copy a4/b7 (sad, disgust)
    assert conflicts["exact"]["changes"] == {"angry->sad": 1, "fear->happy": 1, "fear->sad": 1}
    assert sum(report["class_counts"]["train"].values()) == 20
    json.dumps(report)  # JSON-ready


def test_audit_after_merge_has_no_overlap_and_keeps_the_merge_report(planted, tmp_path):  # noqa: F811
    a, b = planted
    report = audit(merge([a, b], contempt="map:disgust"), out=tmp_path / "audit.json")
    assert json.loads((tmp_path / "audit.json").read_text()) == report
    assert all(v["exact"] == v["near"] == 0 for v in report["overlap"].values())
    assert report["within_split"]["val"] == {"exact": 1, "near": 1}  # kept on purpose
    assert report["merge"]["rows_out"] == 26 and len(report["merge"]["removed_examples"]) == 4
    assert "removed" not in report["merge"]


def test_tables_and_plot(planted):  # noqa: F811
    a, b = planted
    before = audit(merge([a, b], contempt="map:disgust", dedup=False))
    after = audit(merge([a, b], contempt="map:disgust"))
    overlap = audit_table(before)
    assert list(overlap.index) == ["train-val", "train-test", "val-test"] and overlap.loc["val-test", "exact"] == 1
    classes = audit_table(after, "classes")
    assert isinstance(classes, pd.DataFrame) and "train before merge" in classes.columns
    assert classes["train"].sum() == after["splits"]["train"]
    assert audit_table(after, "within").loc["val", "exact"] == 1
    with pytest.raises(ValueError):
        audit_table(after, "nope")
    fig = plot_audit(after, before=before, title="t")
    assert len(fig.axes) == 2 and fig.axes[1].get_title().startswith("split overlap")
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_label_agreement_matches_rows_by_origin(planted):  # noqa: F811
    a, _ = planted
    relabeled = a.select(np.arange(10))
    relabeled.labels = relabeled.labels.copy()
    relabeled.labels[:3] = 6
    agreement = label_agreement(a, relabeled)
    assert agreement["rows_compared"] == 10 and agreement["same_label"] == 10 - int((a.labels[:3] != 6).sum())


def test_command_on_synthetic_files(tmp_path, capsys):
    faces, votes = write_synthetic(tmp_path / "fer", "ferplus", n_per_class=8, size=24, seed=1)
    ck = write_synthetic(tmp_path / "ck", "ckplus", n_per_class=6, size=32, seed=2)
    out = tmp_path / "results" / "merge_audit.json"
    argv = ["--fer2013", str(faces), "--ferplus", str(votes), "--ckplus", str(ck), "--out", str(out),
            "--near-threshold", "0"]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["command"].startswith("python -m fer.data.audit --fer2013 ")
    assert "--near-threshold 0" in report["command"]
    assert report["date"][:4].isdigit() and report["datasets"]["fer2013"]["path"] == str(faces)
    assert report["datasets"]["ckplus"]["split_rule"].startswith("by subject")
    assert set(report) >= {"fer2013", "ferplus", "ckplus", "merged", "merged_before_dedup",
                           "fer2013_vs_ferplus_labels"}
    assert report["merged"]["merge"]["sources"]["ckplus"]["dropped_classes"] == {"contempt": 6}
    assert sorted(p.name for p in out.parent.iterdir()) == ["merge_audit.json", "merge_audit.png"]
    assert "train-val" in capsys.readouterr().out


def test_command_needs_fer2013_for_ferplus(tmp_path):
    with pytest.raises(SystemExit):
        main(["--ferplus", str(tmp_path / "x.csv")])


# ---------------------------------------------------------------- real data


def test_real_fer2013_has_exact_duplicates_across_train_and_val(fer2013_real):
    exact, _ = duplicate_pairs(fer2013_real.images, near_threshold=None)
    split = fer2013_real.split
    across = (split[exact[:, 0]] != split[exact[:, 1]]).sum()
    assert across > 0 and len(exact) > across  # known: duplicates within train and across train/PublicTest
