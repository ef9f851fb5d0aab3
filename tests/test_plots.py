"""Each plot returns a Figure with the expected panels, drawn from the data it was given, and saves a PNG."""

from __future__ import annotations

import json
import os

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from fer.data import Dataset
from fer.evaluate import compute_metrics
from fer.labels import EMOTIONS
from fer.plots import (
    plot_attention,
    plot_class_distribution,
    plot_comparison,
    plot_confusion_matrix,
    plot_grad_cam,
    plot_history,
    plot_per_class_f1,
    plot_samples,
    save_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _saved(fig: Figure, tmp_path, name: str = "fig.png") -> bytes:
    path = save_figure(fig, tmp_path / name, dpi=40)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 500
    return data


def tiny_dataset() -> Dataset:
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 0, 2, 3, 3, 4, 5, 6, 6, 0, 3, 3, 6])  # no disgust (1)
    split = np.array(["train"] * 10 + ["val"] * 4)
    images = rng.integers(0, 256, (len(labels), 12, 12, 1), dtype=np.uint8)
    return Dataset(images, labels, split, np.array(["x"] * len(labels)), np.arange(len(labels)))


def metrics_7() -> dict:
    y_true = np.array([0, 0, 2, 3, 3, 3, 4, 5, 6, 6])
    y_pred = np.array([0, 3, 2, 3, 3, 1, 4, 2, 6, 0])
    return compute_metrics(y_true, y_pred, EMOTIONS, split="val")


# --------------------------------------------------------------------------- save_figure


def test_save_figure_is_atomic_and_closes_under_agg(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    _saved(fig, tmp_path / "out")
    assert os.listdir(tmp_path / "out") == ["fig.png"]
    assert not plt.fignum_exists(fig.number)  # non-interactive backend: closed after saving

    fig2, _ = plt.subplots()
    save_figure(fig2, tmp_path / "keep.png", close=False)
    assert plt.fignum_exists(fig2.number)


def test_failed_save_leaves_no_temp_file(tmp_path, monkeypatch):
    def boom(src, dst):
        raise OSError("disk full")

    fig, _ = plt.subplots()
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_figure(fig, tmp_path / "f.png")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- data


def test_class_distribution_from_a_dataset(tmp_path):
    ds = tiny_dataset()
    fig = plot_class_distribution(ds)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches if p.get_width() > 0]
    assert sum(heights) == len(ds)
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["train", "val"]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(EMOTIONS)
    _saved(fig, tmp_path)

    pct = plot_class_distribution(ds, normalize=True).axes[0]
    assert sum(p.get_height() for p in pct.patches if p.get_width() > 0) == pytest.approx(200.0)


def test_class_distribution_from_counts():
    ax = plot_class_distribution({"happy": 5, "sad": 2}, title="mine").axes[0]
    assert ax.get_title() == "mine" and ax.get_legend() is None
    assert sorted(p.get_height() for p in ax.patches if p.get_width() > 0) == [2, 5]
    ax = plot_class_distribution({"train": {"happy": 5}, "test": {"happy": 1}}).axes[0]
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["test", "train"]
    with pytest.raises(TypeError):
        plot_class_distribution([1, 2, 3])


def test_samples_grid(tmp_path):
    ds = tiny_dataset()
    fig = plot_samples(ds, per_class=3, split="train")
    assert len(fig.axes) == 7 * 3
    axes = np.array(fig.axes).reshape(7, 3)
    assert axes[0, 0].get_ylabel() == "angry\n(n=3)"
    assert axes[1, 0].get_ylabel() == "disgust\n(n=0)" and len(axes[1, 0].images) == 0
    assert len(axes[0, 2].images) == 1 and len(axes[2, 1].images) == 0  # fear has a single train face
    _saved(fig, tmp_path)
    with pytest.raises(ValueError, match="present splits"):
        plot_samples(ds, split="test")


# --------------------------------------------------------------------------- history


def test_history_from_dict_and_csv(tmp_path):
    hist = {"accuracy": [0.3, 0.5, 0.6], "val_accuracy": [0.35, 0.55, 0.5],
            "loss": [1.8, 1.4, 1.2], "val_loss": [1.7, 1.3, 1.4]}
    fig = plot_history(hist)
    assert [ax.get_title() for ax in fig.axes] == ["accuracy (best val 0.550 @ 2)", "loss"]
    assert len(fig.axes[0].lines[0].get_xdata()) == 3
    _saved(fig, tmp_path)

    # a CSVLogger file after a resume: epoch 1 logged twice, plus the learning rate
    csv = tmp_path / "history.csv"
    pd.DataFrame({"epoch": [0, 1, 1, 2], "accuracy": [0.3, 0.4, 0.5, 0.6], "learning_rate": [1e-3] * 4,
                  "loss": [2.0, 1.6, 1.5, 1.2], "val_accuracy": [0.3, 0.2, 0.45, 0.4],
                  "val_loss": [2.0, 1.9, 1.5, 1.6]}).to_csv(csv, index=False)
    fig = plot_history(csv)
    assert [ax.get_title() for ax in fig.axes] == ["accuracy (best val 0.450 @ 2)", "loss", "learning rate"]
    assert list(fig.axes[0].lines[0].get_ydata()) == [0.3, 0.5, 0.6]

    js = tmp_path / "history.json"
    js.write_text(json.dumps({"loss": [1.0, 0.5], "wall_seconds": 12.0}))
    assert [ax.get_title() for ax in plot_history(js).axes] == ["loss"]
    with pytest.raises(FileNotFoundError):
        plot_history(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="no accuracy or loss"):
        plot_history({"auc": [0.5]})


# --------------------------------------------------------------------------- metrics


def test_confusion_matrix_heatmap(tmp_path):
    m = metrics_7()
    fig = plot_confusion_matrix(m)
    assert len(fig.axes) == 2  # heatmap + colour bar
    ax = fig.axes[0]
    assert ax.get_title() == f"Confusion matrix · val · acc {m['accuracy']:.3f}"
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 49
    assert texts[3 * 7 + 3] == "0.67\n(2)"  # happy: 2 of 3 right
    assert texts[1 * 7 + 1] == "0.00\n(0)"  # disgust: no support, no crash
    _saved(fig, tmp_path)

    counts = plot_confusion_matrix(np.array(m["confusion_matrix"]), normalize=False).axes[0]
    assert [t.get_text() for t in counts.texts][:7] == ["1", "0", "0", "1", "0", "0", "0"]
    assert [t.get_text() for t in counts.get_xticklabels()] == list(EMOTIONS)
    with pytest.raises(ValueError, match="class names"):
        plot_confusion_matrix(np.eye(3), classes=["a", "b"])


def test_per_class_f1(tmp_path):
    m = metrics_7()
    fig = plot_per_class_f1(m)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    expected = [m["per_class"][c]["f1"] for c in EMOTIONS if m["per_class"][c]["support"]]
    np.testing.assert_allclose(heights, expected)  # no bar for disgust (no support)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[1] == "disgust\n(n/a)" and labels[3] == "happy\n(n=3)"
    assert ax.get_title() == "Per-class F1 (val)"
    _saved(fig, tmp_path)

    both = plot_per_class_f1({"run a": m, "run b": m}).axes[0]
    assert sorted(t.get_text() for t in both.get_legend().get_texts()) == ["run a", "run b"]
    with pytest.raises(ValueError, match="per_class"):
        plot_per_class_f1({"accuracy": 0.5})


def test_comparison(tmp_path):
    runs = [{"name": "fer_resnet", "accuracy": 0.70, "macro_f1": 0.66, "params": 4.4e6, "images_per_s": 400.0},
            {"model": "cbam_5cnn", "accuracy": 0.60, "macro_f1": 0.52, "params": 1.2e7, "images_per_s": 40.0}]
    fig = plot_comparison(runs)
    assert len(fig.axes) == 2
    bars, scatter = fig.axes
    assert [t.get_text() for t in bars.get_yticklabels()] == ["fer_resnet", "cbam_5cnn"]  # best first
    assert sorted(round(p.get_width(), 2) for p in bars.patches if p.get_width() > 0) == [0.52, 0.6, 0.66, 0.7]
    assert sorted(t.get_text() for t in scatter.texts) == ["cbam_5cnn (12.0M)", "fer_resnet (4.4M)"]
    _saved(fig, tmp_path)

    one = plot_comparison(pd.DataFrame({"name": ["a", "b"], "accuracy": [0.5, 0.6]}))
    assert len(one.axes) == 1
    with pytest.raises(ValueError, match="accuracy"):
        plot_comparison([{"name": "a"}])


# --------------------------------------------------------------------------- explanations


def attention_model() -> keras.Model:
    from fer.layers import CBAM, SpatialAttention, SqueezeExcitation

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = CBAM(ratio=2, kernel_size=3, name="cbam1")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = SqueezeExcitation(ratio=2, name="se")(x)
    x = SpatialAttention(3, name="sa")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(7, name="logits")(x)
    return keras.Model(inputs, keras.layers.Activation("softmax", name="predictions")(x))


def test_attention_plot(tmp_path):
    faces = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)  # fitted to 16x16 gray
    fig = plot_attention(attention_model(), faces)
    # 2 faces x (face + 2 spatial maps: cbam1, sa) + 2 channel strips (cbam1/channel, se)
    assert len(fig.axes) == 2 * 3 + 2
    titles = [ax.get_title() for ax in fig.axes]
    assert "cbam1\n16x16" in titles and "sa\n8x8" in titles
    assert "cbam1/channel: channel weights" in titles and "se: channel weights" in titles
    strip = next(ax for ax in fig.axes if ax.get_title().startswith("se"))
    assert strip.images[0].get_array().shape == (2, 8)  # faces x channels
    _saved(fig, tmp_path)

    inputs = keras.Input((16, 16, 1))
    plain = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="no attention layer"):
        plot_attention(plain, faces)


def test_grad_cam_plot(tmp_path):
    model = attention_model()
    faces = np.random.default_rng(2).integers(0, 256, (3, 24, 24, 1), dtype=np.uint8)
    fig = plot_grad_cam(model, faces, class_index=3)
    assert len(fig.axes) == 2 * 3
    bottom = [ax.get_title() for ax in fig.axes[3:]]
    assert all(t.startswith("happy p=") for t in bottom)
    assert all(len(ax.images) == 2 for ax in fig.axes[3:])  # face + heatmap
    _saved(fig, tmp_path)
