"""fer.recipes: every recipe is a consistent TrainConfig whose model and starting weights exist."""

from __future__ import annotations

import pytest

from fer.data.sources import resolve_path
from fer.models import available
from fer.recipes import RECIPES, get_recipe
from fer.train import TrainConfig


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_is_consistent(name):
    cfg = get_recipe(name)
    assert cfg.model in available()
    if cfg.phases:  # the epoch count printed in cards and configs is the phases' total
        assert cfg.epochs == sum(p.epochs for p in cfg.phases)
    if cfg.init_from:
        assert resolve_path(cfg.init_from).is_file(), (f"recipe {name}: init_from {cfg.init_from} is not in the "
                                                       "repository")
    for teacher in ([cfg.distill_from] if isinstance(cfg.distill_from, str) else cfg.distill_from or []):
        assert resolve_path(teacher).is_file(), f"recipe {name}: teacher {teacher} is not in the repository"
    assert TrainConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()  # survives config.json


def test_unknown_recipe_names_the_available_ones():
    with pytest.raises(ValueError, match="fer2013_default"):
        get_recipe("fer2013_defualt")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_each_recipe_trains_one_epoch_per_phase_on_synthetic_faces(name, tmp_path):
    """The recipe's structure (phases, schedule, mixup, class weights, loss, soft labels, weight averaging,
    BatchNorm re-estimation, starting weights) runs; only the input size of the 224-pixel recipes, the epoch
    counts and the ImageNet weights (no download here) are shrunk."""
    from dataclasses import replace

    import numpy as np

    from fer.data import make_synthetic
    from fer.train import Phase, train

    cfg = get_recipe(name)
    h, w, c = cfg.input_shape or (48, 48, 1)
    small = replace(cfg, input_shape=(32, 32, c) if h > 64 else (h, w, c), epochs=len(cfg.phases) or 1,
                    model_options={k: v for k, v in cfg.model_options.items() if k != "weights"}, tta=False,
                    phases=[Phase(1, p.lr, p.trainable_layers, p.schedule) for p in cfg.phases], batch_size=16,
                    swa_epochs=min(cfg.swa_epochs, 1))
    ds = make_synthetic(n_per_class=4, seed=0)
    if cfg.soft_labels:  # e.g. FER+ votes blended in: here the one-hot labels, slightly smoothed
        ds = replace(ds, soft_labels=(0.9 * np.eye(ds.num_classes)[ds.labels] + 0.1 / ds.num_classes).astype("float32"))
    run = train(ds, small, tmp_path / name, verbose=0)
    assert len(run.history["loss"]) == small.epochs
    assert np.isfinite(run.history["loss"]).all()
    assert (tmp_path / name / "model.keras").is_file() and "val" in run.metrics
