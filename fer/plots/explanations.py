"""Figures that explain a model's decision: Grad-CAM heatmaps and attention maps over the faces."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import matplotlib.pyplot as plt  # pyplot-managed figures, so notebooks show them inline
import numpy as np
from matplotlib.figure import Figure

from fer.plots.data import show_face
from fer.preprocess import LUMA


def _overlay(ax, face: np.ndarray, heat: np.ndarray, alpha: float) -> None:
    """Face in gray with ``heat`` (same H x W, [0, 1]) on top in the jet colour map."""
    face = np.asarray(face, dtype=np.float32)
    if face.ndim == 3 and face.shape[-1] == 3:
        face = face @ LUMA
    show_face(ax, face)
    ax.imshow(heat, cmap="jet", alpha=alpha, vmin=0, vmax=1, interpolation="bilinear")


def _class_names(model, classes: Sequence[str] | None) -> list[str]:
    if classes is not None:
        return list(classes)
    from fer.class_names import class_names

    return list(class_names(model))  # stored in the model, else EMOTIONS for 7 outputs


def plot_grad_cam(model, images: np.ndarray, class_index: int | Sequence[int] | None = None,
                  layer_name: str | None = None, classes: Sequence[str] | None = None,
                  alpha: float = 0.45) -> Figure:
    """Faces (top row) and their Grad-CAM heatmaps overlaid (bottom row).

    Args:
        model: a functional model (see :func:`fer.explain.grad_cam`).
        images: ``N x H x W x C`` ``uint8`` faces, any size.
        class_index: the class explained; ``None`` = each face's predicted class.
        layer_name: the feature-map layer (default: the last one).
        classes: class names for the titles (default: the names stored in the model, see
            :mod:`fer.class_names`, else :data:`~fer.labels.EMOTIONS` for 7 outputs).
        alpha: opacity of the heatmap.

    Returns:
        A figure with ``2 * N`` axes; bottom titles name the explained class and its probability.
    """
    from fer.evaluate import predict_proba
    from fer.explain import grad_cam

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    heat = grad_cam(model, images, class_index=class_index, layer_name=layer_name)
    proba = predict_proba(model, images)
    names = _class_names(model, classes)
    if class_index is None:
        explained = proba.argmax(axis=1)
    else:
        explained = np.broadcast_to(np.asarray(class_index, dtype=int), (len(images),))
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(2.0 * n + 0.5, 4.4), squeeze=False)
    for i in range(n):
        show_face(axes[0][i], images[i])
        axes[0][i].set_title(f"pred {names[int(proba[i].argmax())]}", fontsize=8)
        _overlay(axes[1][i], images[i], heat[i], alpha)
        c = int(explained[i])
        axes[1][i].set_title(f"{names[c]} p={proba[i, c]:.2f}", fontsize=8)
    fig.suptitle("Grad-CAM")
    fig.tight_layout()
    return fig


def plot_attention(model, images: np.ndarray, alpha: float = 0.5) -> Figure:
    """CBAM / SE attention of ``model`` on faces: spatial maps overlaid, channel maps as heat strips.

    Uses :func:`fer.layers.attention_maps` (every top-level ChannelAttention, SpatialAttention,
    CBAM and SqueezeExcitation layer). The faces are first fitted to the model
    (:func:`fer.preprocess.fit_to_model`).

    Layout: one row per face with the face and, for each spatial map (bilinearly upsampled to the
    face and stretched to its own min–max, which is printed under it), an overlay; then one heat
    strip per channel map (rows = faces, columns = channels, colour scale 0–1).

    Returns:
        A figure with ``N * (1 + S) + Ch`` axes for N faces, S spatial and Ch channel maps.
    """
    from fer.layers import attention_maps
    from fer.preprocess import fit_to_model

    x = fit_to_model(images, model.input_shape)
    maps = attention_maps(model, x, channel=True)
    spatial = {k: v[..., 0] for k, v in maps.items() if v.shape[1] * v.shape[2] > 1}
    channel = {k: v.reshape(len(v), -1) for k, v in maps.items() if v.shape[1] * v.shape[2] == 1}
    n, s, ch = len(x), len(spatial), len(channel)
    h, w = x.shape[1:3]
    faces = np.clip(np.rint(x), 0, 255).astype(np.uint8)

    cols = 1 + s
    fig = plt.figure(figsize=(1.9 * cols + 0.6, 1.9 * n + 1.3 * ch + 0.5))
    grid = fig.add_gridspec(n + ch, cols, height_ratios=[1.0] * n + [0.7] * ch)
    for i in range(n):
        ax = fig.add_subplot(grid[i, 0])
        show_face(ax, faces[i])
        if i == 0:
            ax.set_title("face", fontsize=8)
        for j, (name, amap) in enumerate(spatial.items(), start=1):
            up = cv2.resize(amap[i].astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
            lo, hi = float(up.min()), float(up.max())
            ax = fig.add_subplot(grid[i, j])
            _overlay(ax, faces[i], (up - lo) / (hi - lo) if hi > lo else np.zeros_like(up), alpha)
            ax.set_xlabel(f"{lo:.2f}–{hi:.2f}", fontsize=6, labelpad=1)
            if i == 0:
                ax.set_title(f"{name}\n{amap.shape[1]}x{amap.shape[2]}", fontsize=7)
    for k, (name, cmap) in enumerate(channel.items()):
        ax = fig.add_subplot(grid[n + k, :])
        ax.imshow(cmap, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks(range(n))
        ax.set_yticklabels([f"face {i}" for i in range(n)], fontsize=6)
        ax.set_xlabel("channel", fontsize=7)
        ax.set_title(f"{name}: channel weights", fontsize=8)
    fig.suptitle("Attention maps")
    fig.tight_layout()
    return fig
