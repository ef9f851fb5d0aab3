"""Ensembles as one Keras model: every member sees the face at its own input size; their probabilities are averaged.

An ensemble is an ordinary functional ``keras.Model`` (members nested inside), so it saves to one
``.keras`` file, loads after ``import fer`` and runs wherever a single model does (``evaluate``,
``predict``, TTA on top, export)::

    from fer.ensemble import build_ensemble, load_ensemble
    ensemble = load_ensemble(["models/fer2013_default.keras", "results/architectures/baseline_cnn/model.keras"])
    ensemble.save("ensemble.keras")

Members may differ in input size and channels (48x48 gray beside 64x64 RGB): the ensemble takes the
largest size with the most channels, and :class:`FitFace` resizes and converts the face for each member,
as :func:`fer.preprocess.fit_to_model` does for a single model. All members must output the same classes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras
from keras import ops

from fer.class_names import attach_class_names, class_names
from fer.preprocess import LUMA


@keras.saving.register_keras_serializable(package="fer")
class FitFace(keras.layers.Layer):
    """Resize a batch of faces (pixels in [0, 255]) to ``(height, width)`` and convert to ``channels``.

    Gray → RGB repeats the channel; RGB → gray uses the BT.601 luma weights (as ``cv2.COLOR_RGB2GRAY``).

    Args:
        height, width: the output size.
        channels: 1 or 3.
    """

    def __init__(self, height: int, width: int, channels: int, **kwargs):
        super().__init__(**kwargs)
        if channels not in (1, 3):
            raise ValueError(f"FitFace: channels must be 1 or 3, got {channels}")
        self.height, self.width, self.channels = int(height), int(width), int(channels)
        self.resize = keras.layers.Resizing(self.height, self.width, interpolation="bilinear", name="resize")

    def call(self, x):
        c = x.shape[-1]
        if c == 3 and self.channels == 1:
            x = ops.sum(x * ops.convert_to_tensor(LUMA, dtype=x.dtype), axis=-1, keepdims=True)
        elif c == 1 and self.channels == 3:
            x = ops.repeat(x, 3, axis=-1)
        if x.shape[1] != self.height or x.shape[2] != self.width:
            x = self.resize(x)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, self.channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width, "channels": self.channels}


def build_ensemble(members: Sequence[keras.Model], name: str = "ensemble") -> keras.Model:
    """One model whose output is the mean of ``members``' class probabilities.

    Args:
        members: two or more classifiers with the same class names (stored in each file by training).
        name: the ensemble's name.

    Returns:
        A ``keras.Model`` taking faces at the largest member input size (with the most channels) and
        returning probabilities; its class names are the members'.

    Raises:
        ValueError: fewer than two members, or members with different classes.

    Example:
        >>> import fer.models
        >>> a, b = fer.models.build("baseline_cnn"), fer.models.build("simple_cnn", (64, 64, 3))
        >>> build_ensemble([a, b]).input_shape
        (None, 64, 64, 3)
    """
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
    classes = [tuple(class_names(m)) for m in members]
    if len(set(classes)) != 1:
        raise ValueError(f"ensemble members must predict the same classes in the same order; got {classes}")
    shapes = [tuple(m.input_shape[1:]) for m in members]
    height, width = max(s[0] for s in shapes), max(s[1] for s in shapes)
    channels = max(s[2] for s in shapes)
    face = keras.Input((height, width, channels), name="image")
    outputs = []
    for i, (member, shape) in enumerate(zip(members, shapes)):
        wrapped = keras.Model(member.inputs[0], member.outputs[0], name=f"member_{i}_{member.name}")
        x = FitFace(*shape, name=f"fit_member_{i}")(face)
        outputs.append(wrapped(x))
    mean = keras.layers.Average(name="mean_probabilities")(outputs)
    out = keras.layers.Activation("linear", dtype="float32", name="predictions")(mean)
    model = keras.Model(face, out, name=name)
    attach_class_names(model, classes[0])
    return model


def load_ensemble(paths: Sequence[str | os.PathLike], name: str = "ensemble") -> keras.Model:
    """:func:`build_ensemble` over the ``.keras`` files ``paths`` (each read with the project's loader)."""
    from fer.inference.runtimes import load_keras_model

    return build_ensemble([load_keras_model(p) for p in paths], name=name)
