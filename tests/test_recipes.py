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
    assert TrainConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()  # survives config.json


def test_unknown_recipe_names_the_available_ones():
    with pytest.raises(ValueError, match="fer2013_default"):
        get_recipe("fer2013_defualt")
