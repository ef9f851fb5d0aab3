"""Where does the model look? Grad-CAM heatmaps for any functional model of :mod:`fer.models`.

Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization", ICCV 2017) weights each channel ``k`` of a late
feature map ``A`` by the spatial mean of the class score's gradient,
``alpha_k = mean_ij d y_c / d A_k(i, j)``, and keeps the positive part of
``sum_k alpha_k A_k``. The class score ``y_c`` is the pre-softmax logit when the
model ends in a softmax layer (the project convention), else the model output;
logits avoid the saturation of the softmax gradients.

The feature map is by default the output of the last layer with a 4-D output
(``N x h x w x C``, ``h, w > 1``) in the outer model; a nested backbone (a
``keras.Model`` used as a layer) counts as one layer, so its final feature map
is used. Checked on every architecture of the zoo (``fer.models.available()``).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import keras
import numpy as np

from fer.preprocess import fit_to_model, model_input_shape


def _outer_output(model: keras.Model, layer) -> object:
    """The symbolic output of ``layer`` in ``model``'s own graph (nested models included)."""
    nodes_by_depth = getattr(model, "_nodes_by_depth", None)
    if nodes_by_depth:
        for nodes in nodes_by_depth.values():
            for node in nodes:
                if node.operation is layer:
                    outs = node.output_tensors
                    return outs[0] if len(outs) == 1 else outs
    return layer.output


def find_last_conv_layer(model: keras.Model) -> str:
    """Name of the last layer of ``model`` whose output is a spatial feature map (``N x h x w x C``, h, w > 1).

    Raises:
        ValueError: when the model has no such layer (e.g. a Sequential MLP).
    """
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            out = _outer_output(model, layer)
        except (AttributeError, ValueError):
            continue
        shape = getattr(out, "shape", None)
        if shape is not None and len(shape) == 4 and all(d is None or d > 1 for d in shape[1:3]):
            return layer.name
    raise ValueError(f"model {model.name!r} has no layer with a 4-D (N x h x w x C) output; "
                     "Grad-CAM needs a convolutional feature map (pass layer_name=...)")


def _score_tensor(model: keras.Model):
    """The logits feeding the final softmax (an ``Activation("softmax")`` or ``Softmax`` layer), else the output."""
    outputs = model.outputs
    last = getattr(outputs[0], "_keras_history", None) if len(outputs) == 1 else None
    last = last.operation if last is not None else None
    is_softmax = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and getattr(last.activation, "__name__", "") == "softmax")
    if is_softmax:
        for nodes in getattr(model, "_nodes_by_depth", {}).values():
            for node in nodes:
                if node.operation is last and len(node.input_tensors) == 1:
                    return node.input_tensors[0]
    return model.output


def grad_cam(model: keras.Model, images: np.ndarray, class_index: int | Sequence[int] | None = None,
             layer_name: str | None = None, batch_size: int = 32) -> np.ndarray:
    """Grad-CAM heatmaps, one per face, at the faces' own size.

    Args:
        model: a functional ``keras.Model`` (single image input, class-score output).
        images: ``N x H x W x C`` (or ``N x H x W``) ``uint8`` faces of any size; they are fitted
            to the model with :func:`fer.preprocess.fit_to_model`.
        class_index: the class to explain: ``None`` = each face's predicted class, an ``int`` for
            all faces, or one index per face.
        layer_name: the feature-map layer; default :func:`find_last_conv_layer`.
        batch_size: faces per gradient pass.

    Returns:
        ``float32`` array ``N x H x W`` in ``[0, 1]`` (each map divided by its maximum; an all-zero
        map stays zero), upsampled bilinearly to the input images' ``H x W``.
    """
    import tensorflow as tf

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"images must be N x H x W x C or N x H x W, got shape {images.shape}")
    n, height, width = images.shape[:3]
    name = layer_name or find_last_conv_layer(model)
    try:
        layer = model.get_layer(name)
    except ValueError as err:
        raise ValueError(f"layer {name!r} not found in model {model.name!r}; "
                         f"layers with 4-D outputs are e.g. {find_last_conv_layer(model)!r}") from err
    feature = _outer_output(model, layer)
    if len(feature.shape) != 4:
        raise ValueError(f"layer {name!r} outputs shape {feature.shape}; Grad-CAM needs a N x h x w x C map")
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    cam_model = keras.Model(inputs, [feature, _score_tensor(model)])

    if class_index is None:
        targets = None
    else:
        targets = np.broadcast_to(np.asarray(class_index, dtype=int), (n,))
        n_out = model.output_shape[-1]
        if targets.min() < 0 or targets.max() >= n_out:
            raise ValueError(f"class_index must be in [0, {n_out}), got {class_index}")

    shape = model_input_shape(model)
    out = np.zeros((n, height, width), dtype=np.float32)
    for start in range(0, n, batch_size):
        x = tf.convert_to_tensor(fit_to_model(images[start:start + batch_size], shape))
        with tf.GradientTape() as tape:
            fmap, scores = cam_model(x, training=False)
            cls = (tf.argmax(scores, axis=-1, output_type=tf.int32) if targets is None
                   else tf.constant(targets[start:start + batch_size], dtype=tf.int32))
            score = tf.gather(scores, cls, axis=1, batch_dims=1)
        grads = tape.gradient(score, fmap)
        alpha = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cams = tf.nn.relu(tf.reduce_sum(alpha * fmap, axis=-1)).numpy()
        for i, cam in enumerate(cams, start=start):
            cam = cv2.resize(cam.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
            peak = cam.max()
            out[i] = cam / peak if peak > 0 else 0.0
    return out
