"""How a training run uses the losses of :mod:`fer.losses`: loss objects by name (:func:`get_loss`), and
ArcFace's training model around an embedding backbone (:func:`build_arcface_model`) with the batches it takes.

Kept apart from :mod:`fer.losses`, which holds only the Keras objects a saved model may contain (imported with
``fer``); every name here is also importable from :mod:`fer.losses`.
"""

from __future__ import annotations

import keras
from keras import layers

from fer.losses import ArcFace, CenterLoss, FocalLoss, alpha_from_class_weights

#: Names accepted by :func:`get_loss`.
LOSS_NAMES: tuple[str, ...] = ("categorical_crossentropy", "label_smoothing", "focal")


def get_loss(name: str, **kwargs) -> keras.losses.Loss:
    """A loss object by name, for ``model.compile(loss=...)``.

    Args:
        name: ``"categorical_crossentropy"`` (Keras' ``CategoricalCrossentropy``),
            ``"label_smoothing"`` (the same with ``label_smoothing`` defaulting to 0.1) or ``"focal"``
            (:class:`FocalLoss`; ``class_weight={...}`` is accepted as a synonym of ``alpha``).
        **kwargs: passed to the loss class (e.g. ``from_logits=True``, ``label_smoothing=0.1``,
            ``gamma=2.0``, ``alpha=[...]``).

    Raises:
        ValueError: unknown name or keyword argument.
    """
    key = name.strip().lower().replace("-", "_")
    if key in ("cce", "crossentropy", "categorical_crossentropy"):
        cls, kw = keras.losses.CategoricalCrossentropy, dict(kwargs)
    elif key == "label_smoothing":
        cls, kw = keras.losses.CategoricalCrossentropy, {"label_smoothing": 0.1, **kwargs}
    elif key in ("focal", "focal_loss"):
        kw = dict(kwargs)
        if "class_weight" in kw:
            if "alpha" in kw:
                raise ValueError("get_loss('focal'): pass either alpha or class_weight, not both")
            kw["alpha"] = alpha_from_class_weights(kw.pop("class_weight"))
        cls = FocalLoss
    else:
        raise ValueError(f"unknown loss {name!r}; choose one of {list(LOSS_NAMES)}")
    try:
        return cls(**kw)
    except TypeError as err:
        raise ValueError(f"get_loss({name!r}): bad keyword argument for {cls.__name__}: {err}") from None


def to_arcface_inputs(image, label):
    """Map an ``(image, one_hot_label)`` batch to ``({"image": image, "label": label}, label)``.

    For ``tf.data``: ``ds.map(to_arcface_inputs)`` feeds the ``train_model`` of
    :func:`build_arcface_model`.
    """
    return {"image": image, "label": label}, label


class ArcFaceBatches(keras.utils.PyDataset):
    """Wrap a ``PyDataset`` of ``(images, one_hot[, sample_weights])`` batches (e.g. a
    :class:`fer.data.FERSequence`) into the ``({"image", "label"}, one_hot[, sample_weights])`` batches
    the ``train_model`` of :func:`build_arcface_model` takes."""

    def __init__(self, batches: keras.utils.PyDataset) -> None:
        super().__init__()
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        images, labels, *weights = self.batches[index]
        return (*to_arcface_inputs(images, labels), *weights)

    def on_epoch_end(self) -> None:
        self.batches.on_epoch_end()


def build_arcface_model(backbone_embedding_model: keras.Model, num_classes: int = 7, s: float = 30.0,
                        m: float = 0.5, center_loss_weight: float = 0.01, alpha: float = 0.5,
                        easy_margin: bool = False) -> tuple[keras.Model, keras.Model]:
    """ArcFace (+ center loss) training model and a softmax inference model sharing its weights.

    Args:
        backbone_embedding_model: a functional ``keras.Model`` with one image input and a 2-D
            embedding output (e.g. ``fer.models.build_mobilenet_cbam(..., embedding=True)``).
        num_classes: number of classes.
        s, m, easy_margin: :class:`ArcFace` scale, margin and margin rule.
        center_loss_weight: λ of :class:`CenterLoss` (on L2-normalised embeddings); 0 leaves it out.
        alpha: centre learning rate of :class:`CenterLoss`.

    Returns:
        ``(train_model, predict_model)``.

        * ``train_model``: inputs ``{"image", "label"}`` (label one-hot ``num_classes``), output the
          ArcFace logits ``"arcface_logits"``; compile with
          ``CategoricalCrossentropy(from_logits=True)``; the center loss is added automatically.
          Feed it with ``ds.map(to_arcface_inputs)``.
        * ``predict_model``: input ``image`` only, output ``softmax(s · cos θ)`` in a float32 layer named
          ``"predictions"``: evaluate, save and serve it like every other model.

    References:
        Deng et al., CVPR 2019 (ArcFace); Wen et al., ECCV 2016 (center loss).
    """
    if not isinstance(backbone_embedding_model, keras.Model) or len(backbone_embedding_model.inputs) != 1:
        raise ValueError("backbone_embedding_model must be a functional keras.Model with a single image input")
    image = backbone_embedding_model.inputs[0]
    embedding = backbone_embedding_model.outputs[0]
    if len(backbone_embedding_model.outputs) != 1 or len(embedding.shape) != 2:
        raise ValueError(
            f"backbone_embedding_model must output one 2-D embedding (batch, dim), got "
            f"{[tuple(o.shape) for o in backbone_embedding_model.outputs]}; build it with embedding=True"
        )
    label = keras.Input(shape=(num_classes,), name="label", dtype="float32")
    arcface = ArcFace(num_classes, s=s, m=m, easy_margin=easy_margin, name="arcface")

    features = embedding
    if center_loss_weight:
        features = CenterLoss(num_classes, weight=center_loss_weight, alpha=alpha, normalize=True,
                              name="center_loss")([embedding, label])
    logits = layers.Activation("linear", name="arcface_logits", dtype="float32")(arcface([features, label]))
    base = backbone_embedding_model.name
    train_model = keras.Model({"image": image, "label": label}, logits, name=f"{base}_arcface_train")

    probs = layers.Softmax(name="predictions", dtype="float32")(arcface(embedding))
    predict_model = keras.Model(image, probs, name=f"{base}_arcface")
    return train_model, predict_model
