"""Test-time augmentation: the views of a face batch and the probabilities averaged over them.

All views are built at the model's input resolution from a batch already fitted to it
(:func:`fer.preprocess.fit_to_model`):

``"flip"``
    the face and its horizontal mirror (2 views). Expressions are close to
    left-right symmetric, so this is the cheap, safe choice.
``"crops"``
    the face and four copies shifted by ``s`` pixels up, down, left and right
    (5 views), ``s`` = 5 % of the side rounded (2 px at 48×48). Shifting
    pads with the edge pixels, so the view keeps the model's size.
``"flip_crops"`` (also ``tta=True``)
    the five ``"crops"`` views and their mirrors (10 views).
``"ten_crop"``
    the classic 10-crop: four corner crops and the centre crop covering
    11/12 of the side (44 px of 48), each resized back to the model size, and
    their mirrors (10 views).

:func:`predict_views` is the one loop that runs a model over the views (evaluation and
:class:`fer.inference.Classifier` both call it): all views of a face go through the network in the
same batch and their softmax outputs are averaged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fer.preprocess import fit_to_model

TTA_MODES: tuple[str, ...] = ("none", "flip", "crops", "flip_crops", "ten_crop")


def tta_mode(tta: str | bool | None) -> str:
    """The name in :data:`TTA_MODES` of ``tta`` (``True`` = ``"flip_crops"``, ``False``/``None`` = ``"none"``)."""
    if tta is True:
        return "flip_crops"
    if tta is False or tta is None:
        return "none"
    if tta not in TTA_MODES:
        raise ValueError(f"tta={tta!r} is not a test-time augmentation; use True, False or one of {TTA_MODES}")
    return tta


def tta_views(x: np.ndarray, mode: str | bool | None = "flip_crops") -> list[np.ndarray]:
    """The test-time-augmentation views of a batch already at the model's size (see module doc).

    Args:
        x: ``N x H x W x C`` float batch (output of :func:`fit_to_model`).
        mode: one of :data:`TTA_MODES`, ``True`` (= ``"flip_crops"``) or ``False``/``None`` (= ``"none"``).

    Returns:
        A list of arrays shaped like ``x``; the first is ``x`` itself.
    """
    mode = tta_mode(mode)
    if mode == "none":
        return [x]
    if mode == "flip":
        return [x, x[:, :, ::-1]]
    h, w = x.shape[1:3]
    if mode in ("crops", "flip_crops"):
        s = max(1, round(0.05 * min(h, w)))
        pad = np.pad(x, ((0, 0), (s, s), (s, s), (0, 0)), mode="edge")
        views = [x]
        for dy, dx in ((-s, 0), (s, 0), (0, -s), (0, s)):
            views.append(pad[:, s + dy:s + dy + h, s + dx:s + dx + w])
        if mode == "flip_crops":
            views += [v[:, :, ::-1] for v in views]
        return views
    # ten_crop
    ch, cw = max(1, round(h * 11 / 12)), max(1, round(w * 11 / 12))
    offsets = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), ((h - ch) // 2, (w - cw) // 2)]
    views = []
    for oy, ox in offsets:
        crop = x[:, oy:oy + ch, ox:ox + cw]
        views.append(fit_to_model(crop, (h, w, x.shape[-1])))
    views += [v[:, :, ::-1] for v in views]
    return views


def predict_views(run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, tta: str | bool | None = False, *,
                  batch_size: int = 256, num_outputs: int) -> np.ndarray:
    """Probabilities of a batch at the model's size, averaged over its TTA views.

    Args:
        run: the model, ``N x H x W x C`` float32 → ``N x num_outputs`` probabilities
            (a :mod:`fer.inference.runtimes` runtime or :func:`~fer.inference.runtimes.compiled_predict`).
        x: ``N x H x W x C`` float32, already fitted to the model.
        tta: test-time augmentation, see :func:`tta_views`.
        batch_size: images per call of ``run``, views included (at least one face per call).
        num_outputs: the number of classes (the width of an empty result).

    Returns:
        ``N x num_outputs`` float32.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    mode = tta_mode(tta)
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0:
        return np.zeros((0, num_outputs), dtype=np.float32)
    n_views = len(tta_views(x[:1], mode))
    step = max(1, batch_size // n_views)
    out = []
    for start in range(0, len(x), step):
        chunk = x[start:start + step]
        views = np.concatenate(tta_views(chunk, mode)) if n_views > 1 else chunk
        p = np.asarray(run(np.ascontiguousarray(views)), dtype=np.float32)
        out.append(p.reshape(n_views, len(chunk), -1).mean(axis=0))
    return np.concatenate(out).astype(np.float32)
