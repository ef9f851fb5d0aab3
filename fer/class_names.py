"""Class names that travel inside a saved ``.keras`` model.

A model's output is a probability per class; which class each column is must not depend on the
caller remembering it. :func:`attach_class_names` stores the names in the model's final layer
(the float32 softmax layer named ``"predictions"``) **in place**: it turns that
``keras.layers.Activation`` / ``keras.layers.Softmax`` into the registered subclass
:class:`LabeledActivation` / :class:`LabeledSoftmax`, which behaves identically (same name, dtype,
weights — it has none — and output) and adds ``classes`` to its config. ``model.save(...)`` then
writes the names into the ``.keras`` file and ``keras.saving.load_model`` restores them without
``custom_objects``, provided this module has been imported (``fer.inference``, ``fer.evaluate``'s
loader and ``fer.models`` import it). :func:`class_names` reads them back and falls back to
:data:`fer.labels.EMOTIONS` for 7-output models saved without names.

TFLite and ONNX exports carry the same list in their own metadata (see :mod:`fer.export`).

This module only needs Keras, so importing it is cheap.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import keras
from keras import layers

from fer.labels import EMOTIONS


@keras.saving.register_keras_serializable(package="fer")
class LabeledActivation(layers.Activation):
    """``keras.layers.Activation`` that also records the model's class names (one per output column).

    Args:
        activation: as for ``Activation`` (``"softmax"`` for the project's models).
        classes: the class names in output order.
    """

    def __init__(self, activation, classes: Sequence[str] = (), **kwargs):
        super().__init__(activation, **kwargs)
        self.classes = tuple(str(c) for c in classes)

    def get_config(self) -> dict:
        return {**super().get_config(), "classes": list(self.classes)}


@keras.saving.register_keras_serializable(package="fer")
class LabeledSoftmax(layers.Softmax):
    """``keras.layers.Softmax`` that also records the model's class names (one per output column).

    Args:
        classes: the class names in output order.
        **kwargs: as for ``Softmax`` (``axis``, ``name``, ``dtype``).
    """

    def __init__(self, classes: Sequence[str] = (), **kwargs):
        super().__init__(**kwargs)
        self.classes = tuple(str(c) for c in classes)

    def get_config(self) -> dict:
        return {**super().get_config(), "classes": list(self.classes)}


_LABELED = {layers.Activation: LabeledActivation, layers.Softmax: LabeledSoftmax}


def output_layer(model: keras.Model) -> keras.layers.Layer:
    """The layer that produces ``model``'s (single) output."""
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) > 1:
        raise ValueError(f"model {model.name!r} has {len(outputs)} outputs; class names need a single output")
    if outputs and getattr(outputs[0], "_keras_history", None) is not None:
        return outputs[0]._keras_history.operation
    return model.layers[-1]


def num_outputs(model: keras.Model) -> int:
    """Number of output columns (classes) of a classifier."""
    shape = model.output_shape
    if isinstance(shape, list):
        shape = shape[0]
    return int(shape[-1])


def attach_class_names(model: keras.Model, classes: Sequence[str]) -> keras.Model:
    """Store ``classes`` in ``model`` so they are saved with it (in place; also returns ``model``).

    Args:
        model: a classifier whose output layer is an ``Activation`` or ``Softmax`` layer (the
            project convention: ``Activation("softmax", dtype="float32", name="predictions")``).
        classes: one name per output column, e.g. ``dataset.classes``.

    Returns:
        ``model`` itself, its output layer now a :class:`LabeledActivation` / :class:`LabeledSoftmax`.
        For any other output layer the names cannot be stored: a ``UserWarning`` says so and
        the model is returned unchanged (:func:`class_names` then falls back to the defaults).

    Raises:
        ValueError: when the number of names differs from the number of outputs, or names repeat.
    """
    names = tuple(str(c) for c in classes)
    n = num_outputs(model)
    if len(names) != n:
        raise ValueError(f"model {model.name!r} has {n} outputs but {len(names)} class names were given: {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"class names must be unique, got {names}")
    layer = output_layer(model)
    if isinstance(layer, (LabeledActivation, LabeledSoftmax)):
        layer.classes = names
        return model
    target = _LABELED.get(type(layer))
    if target is None:
        warnings.warn(
            f"class names not stored in model {model.name!r}: its output layer {layer.name!r} is a "
            f"{type(layer).__name__}, not an Activation/Softmax layer; end the model with "
            "keras.layers.Activation('softmax', dtype='float32', name='predictions')",
            stacklevel=2,
        )
        return model
    # Same instance, same attributes: only the class changes, so the graph, the layer's name and
    # dtype policy stay as they are and get_config() gains "classes".
    layer.__class__ = target
    layer.classes = names
    return model


def class_names(model: keras.Model) -> tuple[str, ...]:
    """The class names of ``model``'s output columns.

    Returns:
        The names stored by :func:`attach_class_names`; else :data:`fer.labels.EMOTIONS` for a
        7-output model; else ``("class_0", "class_1", ...)`` with a ``UserWarning``.
    """
    layer = output_layer(model)
    if isinstance(layer, (LabeledActivation, LabeledSoftmax)) and layer.classes:
        return tuple(layer.classes)
    return default_class_names(num_outputs(model), where=f"model {model.name!r}")


def default_class_names(n: int, where: str = "the model") -> tuple[str, ...]:
    """Fallback names for ``n`` outputs without stored names (``EMOTIONS`` when ``n == 7``)."""
    if n == len(EMOTIONS):
        return EMOTIONS
    warnings.warn(
        f"{where} stores no class names and has {n} outputs (not the 7 FER2013 emotions); "
        f"using class_0..class_{n - 1}. Save models with fer.class_names.attach_class_names(model, classes).",
        stacklevel=3,
    )
    return tuple(f"class_{i}" for i in range(n))
