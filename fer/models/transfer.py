"""Transfer-learning plumbing shared by the ImageNet-backbone builders (EfficientNet, ResNet50).

The backbones are built on the model's own stem tensor (``input_tensor=`` of ``keras.applications``),
so the final model is one flat functional graph: every backbone layer is a top-level layer with its
``keras.applications`` name (``top_conv``, ``conv5_block3_out`` ...), which Grad-CAM and
``model.get_layer`` can reach directly.
"""

from __future__ import annotations

import os

import keras
from keras import layers

from fer.layers import CBAM, ChannelAttention, SpatialAttention, SqueezeExcitation

#: input-side layers of the builders (see :func:`fer.models.blocks.input_stem`): never part of the backbone
STEM_LAYERS = frozenset({"image", "gray_to_rgb", "rescale", "caffe_preprocess"})
#: the attention blocks the project adds to a backbone: they start random, so they always train
ATTENTION_LAYERS = (CBAM, ChannelAttention, SpatialAttention, SqueezeExcitation)


def split_weights(weights: str | os.PathLike | None) -> tuple[str | None, str | os.PathLike | None]:
    """Split a builder's ``weights`` argument into (``keras.applications`` weights, local file).

    ``None`` and ``"imagenet"`` go to ``keras.applications``; anything else is a local weights file
    of the whole model, loaded afterwards with :func:`fer.models.blocks.load_weights_file`.

    Raises:
        FileNotFoundError: the local file does not exist (checked before the backbone is built).
    """
    if weights is None or (isinstance(weights, str) and weights == "imagenet"):
        return weights, None
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"weights file {weights!r} not found; pass None, 'imagenet' or an existing file")
    return None, weights


def find_backbone(model: keras.Model) -> list[layers.Layer]:
    """The pretrained backbone's layers of a built ``model``, in order: the one finder the builders (their
    ``trainable_layers``) and training's fine-tuning phases (:class:`fer.train.Phase`) use.

    A nested backbone model gives its layers; the project's flat graphs give every layer between the input stem
    (:data:`STEM_LAYERS`) and the head's ``avg_pool``, except the attention blocks the project adds
    (:data:`ATTENTION_LAYERS`).

    Args:
        model: a model from :func:`fer.models.build`.

    Returns:
        The backbone layers, input side first (``backbone[-N:]`` are the last ``N``).

    Raises:
        ValueError: ``model`` has neither a nested backbone nor an ``avg_pool`` head.

    Example:
        >>> from fer.models import build
        >>> backbone = find_backbone(build("efficientnet_b0", (32, 32, 1)))  # doctest: +SKIP
        >>> backbone[0].name, backbone[-1].name  # doctest: +SKIP
        ('stem_conv_pad', 'top_activation')
    """
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if nested:
        return list(nested[0].layers)
    names = [layer.name for layer in model.layers]
    if "avg_pool" not in names:
        raise ValueError(f"phased fine-tuning needs a pretrained backbone followed by an 'avg_pool' head; "
                         f"model {model.name!r} has none. Train it without phases.")
    return [layer for layer in model.layers[:names.index("avg_pool")]
            if layer.name not in STEM_LAYERS and not isinstance(layer, ATTENTION_LAYERS)]


def backbone_layers(inputs, stem_output, backbone_output, exclude: tuple[type, ...] = ()) -> list[layers.Layer]:
    """The layers between ``stem_output`` and ``backbone_output`` in topological order (for a graph that is not a
    model yet; a built model's backbone is :func:`find_backbone`'s).

    Args:
        inputs: the model's ``keras.Input``.
        stem_output: the tensor the backbone was built on (its layers are not backbone layers).
        backbone_output: the backbone's last tensor.
        exclude: layer types that are not part of the backbone (e.g. added attention blocks).
    """
    stem = {id(layer) for layer in keras.Model(inputs, stem_output).layers}
    return [layer for layer in keras.Model(inputs, backbone_output).layers
            if id(layer) not in stem and not isinstance(layer, exclude)]


def check_trainable_layers(trainable_layers: int | None) -> None:
    """Raise ``ValueError`` unless ``trainable_layers`` is ``None`` or an integer ``>= 0``."""
    if trainable_layers is None:
        return
    if isinstance(trainable_layers, bool) or not isinstance(trainable_layers, int) or trainable_layers < 0:
        raise ValueError(f"trainable_layers must be None or an integer >= 0, got {trainable_layers!r}")


def set_trainable_layers(backbone: list[layers.Layer], trainable_layers: int | None) -> None:
    """Freeze a backbone except its last ``trainable_layers`` layers; BatchNorm layers stay frozen.

    Args:
        backbone: the backbone layers in order (see :func:`backbone_layers`).
        trainable_layers: ``None`` leaves every layer trainable (training from scratch or full
            fine-tuning); ``0`` freezes the whole backbone; ``N`` unfreezes the last ``N`` layers
            (counted over all layers, weightless ones included, as ``base.layers[-N:]`` does) except
            BatchNormalization layers, which stay frozen and so run in inference mode.

    Raises:
        ValueError: ``trainable_layers`` is not ``None`` or a non-negative integer.
    """
    check_trainable_layers(trainable_layers)
    if trainable_layers is None:
        return
    for layer in backbone:
        layer.trainable = False
    if trainable_layers:
        for layer in backbone[-trainable_layers:]:
            if not isinstance(layer, layers.BatchNormalization):
                layer.trainable = True


def copy_weights_by_name(source: keras.Model, target: keras.Model, strict: bool = True) -> list[str]:
    """Copy the weights of every weighted layer of ``source`` into the same-named layer of ``target``.

    Used to put ``keras.applications`` ImageNet weights into a rebuilt graph with the same layer names
    (``strict``), and to start a model from another one's matching layers, e.g. a FER2013 model
    fine-tuned on FER+'s 8 classes gets everything but its classifier (``strict=False``).

    Args:
        source: the model to copy from.
        target: the model to copy into (in place).
        strict: raise when a weighted ``source`` layer has no same-named, same-shaped counterpart in
            ``target``; with ``False`` such layers are skipped.

    Returns:
        The names of the layers copied.

    Raises:
        ValueError: (``strict``) a weighted source layer is missing in ``target`` or has other weight shapes.
    """
    copied = []
    for layer in source.layers:
        values = layer.get_weights()
        if not values:
            continue
        try:
            dest = target.get_layer(layer.name)
        except ValueError as err:
            if not strict:
                continue
            raise ValueError(f"layer {layer.name!r} of {source.name!r} has no counterpart in {target.name!r}") from err
        shapes = [tuple(w.shape) for w in dest.weights]
        if shapes != [v.shape for v in values]:
            if not strict:
                continue
            raise ValueError(f"layer {layer.name!r}: weight shapes {shapes} in {target.name!r} differ from "
                             f"{[v.shape for v in values]} in {source.name!r}")
        dest.set_weights(values)
        copied.append(layer.name)
    return copied
