"""Confidence intervals: Wilson for accuracy, bootstrap from the confusion matrix for the rest."""

import numpy as np
import pytest

from fer.confidence import bootstrap_confusions, metric_intervals, pairs_from_confusion, wilson_interval
from fer.evaluate import compute_metrics

CLASSES = ("a", "b", "c")


def _metrics(cm):
    true, pred = pairs_from_confusion(cm)
    return compute_metrics(true, pred, CLASSES)


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    low, high = wilson_interval(100, 100)  # all correct: the interval reaches 1 and stays below it from the left
    assert high == 1.0 and 0.95 < low < 1.0
    with pytest.raises(ValueError, match="n > 0"):
        wilson_interval(0, 0)


def test_pairs_from_confusion_rebuild_the_same_matrix():
    cm = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 4]])
    assert np.array_equal(np.array(_metrics(cm)["confusion_matrix"]), cm)
    with pytest.raises(ValueError, match="square"):
        pairs_from_confusion(np.ones((2, 3)))


def test_bootstrap_resamples_keep_the_number_of_faces():
    cm = np.array([[30, 5, 5], [4, 40, 6], [2, 3, 25]])
    draws = bootstrap_confusions(cm, n_boot=50, seed=1)
    assert draws.shape == (50, 3, 3) and (draws.sum(axis=(1, 2)) == cm.sum()).all()
    assert not np.array_equal(draws[0], draws[1])


def test_intervals_contain_the_value_and_narrow_with_more_faces():
    cm = np.array([[30, 5, 5], [4, 40, 6], [2, 3, 25]])
    small, large = metric_intervals(_metrics(cm)), metric_intervals(_metrics(cm * 16))
    for ci in (small, large):
        for row in (ci["accuracy"], ci["macro_f1"], ci["per_class"]["b"]["recall"]):
            assert row["low"] <= row["value"] <= row["high"]
    assert small["accuracy"]["value"] == pytest.approx(large["accuracy"]["value"])
    for key in ("accuracy", "macro_f1"):
        width = {n: ci[key]["high"] - ci[key]["low"] for n, ci in (("small", small), ("large", large))}
        assert width["large"] < 0.5 * width["small"]  # 16x the faces: about a quarter of the width
    assert small["per_class"]["a"]["f1"]["value"] == pytest.approx(_metrics(cm)["per_class"]["a"]["f1"])
    assert small["macro_f1"]["value"] == pytest.approx(_metrics(cm)["macro_f1"])


def test_intervals_are_reproducible_with_a_seed_and_cover_the_truth_about_95_percent():
    rng = np.random.default_rng(0)
    truth, n, covered = 0.6, 400, 0
    for _ in range(400):
        correct = int(rng.binomial(n, truth))
        low, high = wilson_interval(correct, n)
        covered += low <= truth <= high
    assert 0.92 <= covered / 400 <= 0.98
    cm = np.array([[30, 5, 5], [4, 40, 6], [2, 3, 25]])
    assert metric_intervals(_metrics(cm), seed=3) == metric_intervals(_metrics(cm), seed=3)
