"""The registry's per-architecture training defaults and the one backbone finder the builders and training share."""

from __future__ import annotations

import keras

from fer.models import DEFAULT_LR, build, default_lr, learning_rate
from fer.models.transfer import find_backbone
from fer.train import TrainConfig


def test_the_learning_rate_default_comes_from_the_registry():
    assert learning_rate("cbam_5cnn") == default_lr("cbam_5cnn") == 1e-4
    assert default_lr("baseline_cnn") is None and learning_rate("baseline_cnn") == DEFAULT_LR == 1e-3
    assert TrainConfig(model="resnet50").resolved_lr() == 1e-4
    assert TrainConfig(model="resnet50", lr=0.5).resolved_lr() == 0.5
    assert TrainConfig(model="no_such_model").resolved_lr() == DEFAULT_LR  # check_config names the bad model


def test_a_builder_freezes_the_backbone_find_backbone_finds():
    model = build("efficientnet_b0", (32, 32, 1), trainable_layers=6)
    backbone = find_backbone(model)
    assert backbone[0].name != "gray_to_rgb" and model.layers[model.layers.index(backbone[-1]) + 1].name == "avg_pool"
    trainable = [layer.name for layer in backbone if layer.trainable]
    assert 0 < len(trainable) < 6  # the last 6 layers but their BatchNorm
    assert trainable == [la.name for la in backbone[-6:] if not isinstance(la, keras.layers.BatchNormalization)]
    head = model.layers[model.layers.index(backbone[-1]) + 1:]
    assert head and all(layer.trainable for layer in head)
