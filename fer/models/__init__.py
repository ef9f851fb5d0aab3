"""The model zoo: ``fer.models.available()``, ``fer.models.build(name, ...)`` and each ``build_<name>``."""

from fer.models.registry import available, build, default_shape
from fer.models.fer_resnet import build_fer_resnet

__all__ = ["available", "build", "default_shape", "build_fer_resnet"]
