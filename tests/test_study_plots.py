"""Study figures return the series they were given."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from fer.study_plots import pareto_front, plot_accuracy_against, plot_f1_heatmap, plot_scores, plot_validation_curves  # noqa: E402

TABLE = pd.DataFrame({
    "name": ["a", "b", "c", "d"],
    "accuracy": [0.50, 0.40, 0.70, 0.60], "accuracy_low": [0.48, 0.38, 0.68, 0.58],
    "accuracy_high": [0.52, 0.42, 0.72, 0.62],
    "macro_f1": [0.45, 0.35, 0.65, 0.55], "macro_f1_low": [0.43, 0.33, 0.63, 0.53],
    "macro_f1_high": [0.47, 0.37, 0.67, 0.57],
    "latency_batch1_ms": [1.0, 2.0, 3.0, 4.0], "params": [1e5, 1e6, 1e7, 2e6],
})


def test_pareto_front_keeps_only_unbeaten_points():
    assert pareto_front([1, 2, 3, 4], [0.5, 0.4, 0.7, 0.6]) == [0, 2]
    assert pareto_front([3, 1, 2], [0.9, 0.1, 0.5]) == [1, 2, 0]
    assert pareto_front([1, 1], [0.2, 0.3]) == [1]


def test_plot_scores_draws_both_metrics_for_every_model_with_intervals():
    fig = plot_scores(TABLE)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if hasattr(c, "patches")]
    assert len(bars) == 2 and all(len(c.patches) == 4 for c in bars)
    widths = sorted(p.get_width() for p in bars[0].patches)
    assert widths == sorted(TABLE["accuracy"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "a", "d", "c"]  # best on top
    with pytest.raises(ValueError, match="accuracy_low"):
        plot_scores(TABLE.drop(columns="accuracy_low"))


def test_accuracy_vs_latency_marks_the_pareto_front():
    fig = plot_accuracy_against(TABLE, "latency_batch1_ms", pareto=True)
    ax = fig.axes[0]
    front = [line for line in ax.get_lines() if line.get_label() == "Pareto front"]
    assert len(front) == 1
    assert list(front[0].get_xdata()) == [1.0, 3.0] and list(front[0].get_ydata()) == [0.5, 0.7]
    assert ax.get_xscale() == "log"
    no_front = plot_accuracy_against(TABLE, "params")
    assert not [line for line in no_front.axes[0].get_lines() if line.get_label() == "Pareto front"]


def test_validation_curves_have_one_line_per_model_with_history():
    fig = plot_validation_curves({"a": {"val_accuracy": [0.1, 0.2, 0.3]},
                                  "b": pd.DataFrame({"val_accuracy": [0.2, 0.4]}),
                                  "c": {"loss": [1.0]}})
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert set(lines) == {"a", "b"}
    assert list(lines["b"].get_ydata()) == [0.2, 0.4] and list(lines["b"].get_xdata()) == [1, 2]
    with pytest.raises(ValueError, match="val_accuracy"):
        plot_validation_curves({"c": {"loss": [1.0]}})


def test_f1_heatmap_rows_are_models_best_first_and_columns_classes():
    fig = plot_f1_heatmap({"weak": {"happy": 0.2, "sad": 0.1}, "strong": {"happy": 0.9, "sad": 0.7}})
    grid = np.asarray(fig.axes[0].images[0].get_array())
    assert grid.shape == (2, 2)
    assert np.allclose(grid, [[0.9, 0.7], [0.2, 0.1]])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["happy", "sad"]
