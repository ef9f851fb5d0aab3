"""fer: facial expression recognition with Keras 3 — layers, models, data, training and inference.

Importing ``fer`` registers the project's custom layers and losses with Keras, so any ``.keras``
file the project writes loads with plain ``keras.saving.load_model(path)``.

The everyday names are importable from here and load their module on first use (``import fer``
itself stays light)::

    import fer
    ds = fer.load_dataset("synthetic")                     # fer.data.sources.load_dataset
    run = fer.train(ds, fer.TrainConfig(model="baseline_cnn", epochs=3), "results/runs/demo")
    metrics = fer.evaluate(fer.load_model(run.out_dir / "model.keras"), ds, split="val")
    clf = fer.load_classifier()                           # fer.inference.load_classifier
    net = fer.build("fer_resnet", (48, 48, 1))            # fer.models.build

``fer.train`` and ``fer.evaluate`` are the modules :mod:`fer.train` and :mod:`fer.evaluate`, and
calling them calls their function of the same name (``fer.train(...)`` is ``fer.train.train(...)``),
so the module names and the everyday function names do not shadow each other.
"""

import importlib as _importlib
import os as _os
import sys as _sys
import types as _types

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

#: name → the module that defines it, imported on first access.
_EXPORTS = {
    "build": "fer.models",
    "evaluate": "fer.evaluate",
    "load_classifier": "fer.inference",
    "load_dataset": "fer.data.sources",
    "load_model": "fer.evaluate",
    "train": "fer.train",
    "TrainConfig": "fer.train",
}
#: Submodules that are also the everyday function of the same name.
_CALLABLE_MODULES = ("train", "evaluate")

__all__ = ["__version__", *sorted(_EXPORTS)]


class _CallableModule(_types.ModuleType):
    """A module that can be called: ``fer.train(...)`` runs ``fer.train.train(...)``."""

    def __call__(self, *args, **kwargs):
        return getattr(self, self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Package(_types.ModuleType):
    """The type of the ``fer`` module: makes :data:`_CALLABLE_MODULES` callable as they are imported."""

    def __setattr__(self, name: str, value) -> None:
        if name in _CALLABLE_MODULES and type(value) is _types.ModuleType:
            value.__class__ = _CallableModule  # the import system sets fer.<name> once the submodule is loaded
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    """Import the module behind an everyday name on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fer' has no attribute {name!r}")
    module = _importlib.import_module(_EXPORTS[name])
    return module if name in _CALLABLE_MODULES else getattr(module, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


# Registering the custom objects with Keras: LabeledActivation/LabeledSoftmax (class names), CBAM & co.
# (layers), ArcFace, CenterLoss, FocalLoss (losses).
from fer import class_names as _class_names, layers as _layers, losses as _losses  # noqa: E402,F401
from fer.landmarks import layers as _landmark_layers  # noqa: E402,F401  (registers GraphConv & co.)
