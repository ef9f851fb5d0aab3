"""The models of a run: the model ``fit`` trains and the classifier the run saves (:func:`build_models`), which
layers a phase trains (:func:`set_trainable`), a start from another model's weights (:func:`init_weights`) and
the float32 classifier a run saves (:func:`finish_model`)."""

from __future__ import annotations

import os
import sys

import keras

from fer.class_names import attach_class_names
from fer.data.dataset import Dataset
from fer.data.sources import resolve_path
from fer.models import build
from fer.models.transfer import copy_weights_by_name, find_backbone, set_trainable_layers
from fer.training.config import TrainConfig
from fer.weight_averaging import update_batchnorm


def embedding_output(model: keras.Model):
    """The tensor ArcFace works on: the output of a layer named ``embedding``, else the input of ``logits``."""
    names = {layer.name for layer in model.layers}
    if "embedding" in names:
        return model.get_layer("embedding").output
    if "logits" in names:
        return model.get_layer("logits").input
    raise ValueError(f"loss='arcface' needs a model with an 'embedding' or a 'logits' layer; "
                     f"{model.name!r} has neither")


def build_models(cfg: TrainConfig, shape: tuple[int, int, int], num_classes: int) -> tuple[keras.Model, keras.Model]:
    """``(fit_model, run_model)``: the model ``fit`` trains and the classifier the run saves.

    They are the same model except with ``loss="arcface"``, where ``fit_model`` takes ``{"image",
    "label"}`` and returns margin logits, and ``run_model`` is the softmax classifier sharing its weights.
    """
    model = build(cfg.model, shape, num_classes, **cfg.model_options)
    if cfg.loss != "arcface":
        return model, model
    from fer.training.losses import build_arcface_model

    backbone = keras.Model(model.inputs, embedding_output(model), name=model.name)
    return build_arcface_model(backbone, num_classes, s=cfg.arcface_s, m=cfg.arcface_m,
                               center_loss_weight=cfg.center_loss_weight)



def set_trainable(model: keras.Model, trainable_layers: int | None) -> None:
    """Unfreeze the last ``trainable_layers`` backbone layers (``0`` = head only, ``-1`` = all; BatchNorm stays
    frozen), or with ``None`` make every layer trainable (training from scratch). The backbone is
    :func:`fer.models.transfer.find_backbone`'s."""
    if trainable_layers is None:
        for layer in model.layers:
            layer.trainable = True
        return
    backbone = find_backbone(model)
    set_trainable_layers(backbone, len(backbone) if trainable_layers < 0 else trainable_layers)


def init_weights(model: keras.Model, source: str | os.PathLike) -> list[str]:
    """Copy into ``model`` the weights of every layer of ``source`` (a ``.keras`` model or a
    ``.weights.h5`` file of the same architecture) whose name and weight shapes match.

    Returns:
        The names of ``model``'s weighted layers that were *not* initialised (e.g. a new classifier).

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: no layer matched (a different architecture).
    """
    path = resolve_path(source)
    if not path.is_file():
        raise FileNotFoundError(f"init_from={str(source)!r}: no such file. Give a .keras model or a "
                                ".weights.h5 file of the same architecture (e.g. models/fer2013_default.keras).")
    if str(path).endswith(".weights.h5"):
        model.load_weights(path)
        return []
    src = keras.saving.load_model(path, compile=False)
    copied = set(copy_weights_by_name(src, model, strict=False))
    if not copied:
        raise ValueError(f"init_from={str(source)!r}: no layer of {src.name!r} matches {model.name!r} by name "
                         "and weight shapes; it is a different architecture.")
    skipped = [layer.name for layer in model.layers if layer.weights and layer.name not in copied]
    return skipped



def to_float32(model: keras.Model, cfg: TrainConfig, shape, num_classes: int) -> keras.Model:
    """Rebuild ``model`` (a trained ``fit_model``) uncompiled with float32 layers, copy its weights and
    return the run's classifier (see :func:`build_models`).

    The saved file then carries no optimizer state (smaller) and runs in float32 everywhere (TFLite friendly).
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        fit_clean, clean = build_models(cfg, shape, num_classes)
        fit_clean.set_weights(model.get_weights())
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return clean


def finish_model(model: keras.Model, cfg: TrainConfig, shape, ds: Dataset, clean_faces) -> keras.Model:
    """The float32 classifier of a trained ``model``, with class names and (``clean_faces`` given)
    BatchNorm statistics re-estimated on them."""
    final = to_float32(model, cfg, shape, ds.num_classes)
    attach_class_names(final, ds.classes)
    if clean_faces is not None:
        update_batchnorm(final, clean_faces)
        print(f"[fer.train] BatchNorm statistics re-estimated on the {len(clean_faces.images)} un-augmented "
              "training faces", file=sys.stderr)
    return final

