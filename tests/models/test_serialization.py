"""Every registered model saves as ``.keras`` and reloads in a fresh process with the same outputs."""

from __future__ import annotations

import numpy as np

import fer.models
from tests.reload import reload_in_fresh_process

NAMES = {
    "fer_resnet", "baseline_cnn", "simple_cnn", "cnn_spatial_attention", "cbam_5cnn", "efficientnet_b3",
    "efficientnet_b0",
    "resnet50", "resnet50_cbam", "mobilenet_cbam",
}

# Saved at 48x48 grayscale (the smallest input every architecture takes), plus two option variants
# whose extra state must survive the round trip: frozen layers and the ArcFace embedding output.
CASES = {name: (name, {}) for name in sorted(NAMES)}
CASES["efficientnet_b0_frozen"] = ("efficientnet_b0", {"trainable_layers": 10})
CASES["mobilenet_cbam_embedding"] = ("mobilenet_cbam", {"embedding": True})

# landmark and fusion models take landmarks, not 48x48 images: tests/models/test_landmark.py saves and reloads them
LANDMARK_NAMES = {"landmark_mlp", "landmark_transformer", "landmark_gnn", "fer_landmark_fusion"}


def test_all_architectures_are_registered():
    assert set(fer.models.available()) == NAMES | LANDMARK_NAMES
    for name in LANDMARK_NAMES:
        assert callable(getattr(fer.models, f"build_{name}")) and f"build_{name}" in fer.models.__all__
    for name in NAMES:
        assert callable(getattr(fer.models, f"build_{name}")) and f"build_{name}" in fer.models.__all__


def test_fresh_process_reload_gives_same_outputs(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(2, 48, 48, 1)).astype("float32")
    models, facts = {}, {}
    for case, (name, options) in CASES.items():
        models[case] = fer.models.build(name, input_shape=(48, 48, 1), **options)
        facts[case] = (len(models[case].trainable_weights), len(models[case].weights), models[case].layers[-1].name)
    report = reload_in_fresh_process(models, dict.fromkeys(CASES, images), tmp_path)
    assert set(report) == set(CASES)
    for case, got in report.items():
        assert got["max_diff"] < 1e-5, (case, got["max_diff"])
        assert (got["trainable"], got["weights"], got["output"]) == facts[case], case
        # importing the package registers every custom object; the model code itself is not needed to load
        assert "fer.layers" in got["fer_modules"] and not any(m.startswith("fer.models") for m in got["fer_modules"])
    assert report["mobilenet_cbam_embedding"]["output"] == "embedding"
    assert report["efficientnet_b0_frozen"]["trainable"] < report["efficientnet_b0"]["trainable"]


def test_the_registry_carries_each_architectures_default_learning_rate():
    from fer.models import available, default_lr
    from fer.train import TrainConfig

    assert default_lr("cbam_5cnn") == 1e-4 and default_lr("fer_resnet") is None
    for name in available():
        assert TrainConfig(model=name).resolved_lr() == (default_lr(name) or 1e-3)
    assert TrainConfig(model="resnet50", lr=0.02).resolved_lr() == 0.02
