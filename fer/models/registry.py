"""A small name → builder registry behind :func:`fer.models.build`."""

from __future__ import annotations

from collections.abc import Callable

import keras

Builder = Callable[..., keras.Model]
_BUILDERS: dict[str, Builder] = {}
_DEFAULT_SHAPES: dict[str, tuple[int, int, int]] = {}
_DEFAULT_LR: dict[str, float] = {}
#: the learning rate of an architecture whose source states none (and of a name that is not registered)
DEFAULT_LR = 1e-3


def register(name: str, default_shape: tuple[int, int, int],
             default_lr: float | None = None) -> Callable[[Builder], Builder]:
    """Class-free decorator: ``@register("cbam_5cnn", (224, 224, 3), default_lr=1e-4)`` above a builder.

    ``default_lr`` is the Adam learning rate of the architecture's source (``TrainConfig(lr=None)`` uses it).
    """

    def wrap(fn: Builder) -> Builder:
        if name in _BUILDERS:
            raise ValueError(f"model name {name!r} is registered twice")
        _BUILDERS[name] = fn
        _DEFAULT_SHAPES[name] = tuple(default_shape)
        if default_lr is not None:
            _DEFAULT_LR[name] = float(default_lr)
        return fn

    return wrap


def available() -> list[str]:
    """Names accepted by :func:`build`, sorted.

    Example:
        >>> "fer_resnet" in available()
        True
    """
    return sorted(_BUILDERS)


def default_shape(name: str) -> tuple[int, int, int]:
    """The documented default input shape of architecture ``name``."""
    _check(name)
    return _DEFAULT_SHAPES[name]


def default_lr(name: str) -> float | None:
    """The learning rate architecture ``name``'s source trained it with, or ``None`` when it states none."""
    _check(name)
    return _DEFAULT_LR.get(name)


def learning_rate(name: str) -> float:
    """The learning rate ``TrainConfig(lr=None)`` trains architecture ``name`` with: :func:`default_lr`, else
    :data:`DEFAULT_LR`; an unknown name also gets :data:`DEFAULT_LR` (:func:`fer.train.check_config` rejects it).

    Example:
        >>> learning_rate("cbam_5cnn"), learning_rate("baseline_cnn")  # doctest: +SKIP
        (0.0001, 0.001)
    """
    return (_DEFAULT_LR.get(name) if name in _BUILDERS else None) or DEFAULT_LR


def build(name: str, input_shape: tuple[int, int, int] | None = None, num_classes: int = 7,
          weights: str | None = None, **options) -> keras.Model:
    """Build an uncompiled model by name.

    Args:
        name: one of :func:`available`.
        input_shape: ``(H, W, C)``; ``None`` uses the architecture's documented default.
        num_classes: size of the softmax output.
        weights: ``None``, ``"imagenet"`` (pretrained backbones only) or a path to a weights file.
        **options: architecture-specific keyword arguments (see each ``build_<name>``).

    Returns:
        A ``keras.Model`` taking pixels in ``[0, 255]`` and returning class probabilities.

    Example:
        >>> import fer.models
        >>> model = fer.models.build("baseline_cnn")            # its default input, 48x48x1
        >>> model.output_shape
        (None, 7)
        >>> big = fer.models.build("efficientnet_b0", (96, 96, 3), weights=None)
    """
    _check(name)
    shape = tuple(input_shape) if input_shape is not None else _DEFAULT_SHAPES[name]
    return _BUILDERS[name](input_shape=shape, num_classes=num_classes, weights=weights, **options)


def _check(name: str) -> None:
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; available models: {available()}")
