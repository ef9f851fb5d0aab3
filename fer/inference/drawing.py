"""Drawing on images with OpenCV: face boxes, labels, per-class probability bars and a status line.

Each class has one colour (matplotlib's "tab10" cycle, :data:`TAB10`), the same in the drawn
images and in the video timeline plot (:func:`fer.inference.video.plot_timeline`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fer.class_names import default_class_names
from fer.inference.classifier import check_order
from fer.inference.detection import Box

if TYPE_CHECKING:  # the pipeline draws with this module: importing it here would be a cycle
    from fer.inference.pipeline import FaceResult

#: Matplotlib's "tab10" colours (RGB), one per class index; the timeline plot uses the same.
TAB10 = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
         (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def class_color(index: int, channel_order: str = "bgr") -> tuple[int, int, int]:
    """The drawing colour of class ``index`` (matplotlib's tab10 cycle), in the image's channel order."""
    rgb = TAB10[index % len(TAB10)]
    return rgb[::-1] if check_order(channel_order) == "bgr" else rgb


def draw_predictions(image: np.ndarray, results: Iterable[FaceResult], classes: Sequence[str] | None = None, *,
                     channel_order: str = "bgr", bars: bool = True,
                     tracks: Sequence[int] | None = None) -> np.ndarray:
    """Draw each face's box, ``label probability`` and a probability bar per class.

    Args:
        image: the image the results belong to (gray, BGR/RGB or with alpha; not modified).
        results: from :func:`detect_and_predict`.
        classes: names for the bars (``classifier.classes``); default the 7 emotions for 7 outputs.
        channel_order: the order of ``image`` (colours are drawn in the same order).
        bars: also draw the per-class probability panel next to each face.
        tracks: optional track id per result (videos, webcam), drawn before the label as ``#3``.

    Returns:
        A new ``H x W x 3`` uint8 image in ``channel_order``.
    """
    order = check_order(channel_order)
    out = np.asarray(image)
    if out.dtype != np.uint8:
        out = np.clip(np.rint(out.astype(np.float32)), 0, 255).astype(np.uint8)
    if out.ndim == 2 or out.shape[-1] == 1:
        out = cv2.cvtColor(out.reshape(out.shape[:2]), cv2.COLOR_GRAY2BGR)
    else:
        out = np.ascontiguousarray(out[..., :3]).copy()
    h, w = out.shape[:2]
    unit = max(h, w) / 640.0
    font = float(np.clip(0.55 * unit, 0.35, 2.5))
    thick = max(1, round(unit))
    for n, result in enumerate(results):
        box, probs, label = result
        probs = np.asarray(probs, dtype=np.float32)
        names = tuple(classes) if classes is not None else default_class_names(len(probs))
        k = int(np.argmax(probs))
        color = class_color(k, order)
        x, y, bw, bh = (int(v) for v in box)
        cv2.rectangle(out, (x, y), (x + bw, y + bh), color, thick + 1, cv2.LINE_AA)
        text = f"{label} {probs[k]:.0%}" if tracks is None else f"#{tracks[n]} {label} {probs[k]:.0%}"
        (tw, th), base = cv2.getTextSize(text, _FONT, font, thick)
        top = y - th - base - 4 if y - th - base - 4 >= 0 else min(h - th - base - 4, y + bh + 2)
        cv2.rectangle(out, (x, top), (x + tw + 6, top + th + base + 4), color, -1)
        cv2.putText(out, text, (x + 3, top + th + 2), _FONT, font, _text_color(color), thick, cv2.LINE_AA)
        if bars:
            _draw_bars(out, (x, y, bw, bh), probs, names, k, order, font * 0.8, thick)
    return out


def _text_color(bg: tuple[int, int, int]) -> tuple[int, int, int]:
    return (0, 0, 0) if sum(bg) / 3 > 150 else (255, 255, 255)


def _draw_bars(out: np.ndarray, box: Box, probs: np.ndarray, names: Sequence[str], best: int, order: str,
               font: float, thick: int) -> None:
    h, w = out.shape[:2]
    x, y, bw, bh = box
    (_, th), base = cv2.getTextSize("Ag", _FONT, font, thick)
    pad = max(2, th // 3)
    row = th + base + pad
    name_w = max(cv2.getTextSize(n, _FONT, font, thick)[0][0] for n in names)
    bar_w = max(40, 6 * th)
    pw, ph = pad * 4 + name_w + bar_w, row * len(names) + pad * 2
    px = x + bw + pad if x + bw + pad + pw <= w else (x - pad - pw if x - pad - pw >= 0 else max(0, w - pw))
    py = min(max(0, y), max(0, h - ph))
    roi = out[py:py + ph, px:px + pw]
    roi[:] = (roi.astype(np.uint16) * 2 // 7).astype(np.uint8)  # darken the panel background
    for i, (name, p) in enumerate(zip(names, probs)):
        ty = py + pad + i * row + th
        white = (255, 255, 255) if i == best else (200, 200, 200)
        cv2.putText(out, name, (px + pad, ty), _FONT, font, white, thick, cv2.LINE_AA)
        bx = px + pad * 2 + name_w
        cv2.rectangle(out, (bx, ty - th), (bx + bar_w, ty), (90, 90, 90), 1)
        if p > 0:
            cv2.rectangle(out, (bx, ty - th), (bx + max(1, round(float(p) * bar_w)), ty), class_color(i, order), -1)


def draw_status(out: np.ndarray, text: str) -> None:
    """Write ``text`` (e.g. the FPS) white on black in the top-left corner of ``out``, in place."""
    unit = max(out.shape[:2]) / 640.0
    font, thick = float(np.clip(0.6 * unit, 0.4, 2.5)), max(1, round(unit))
    (tw, th), base = cv2.getTextSize(text, _FONT, font, thick)
    cv2.rectangle(out, (0, 0), (tw + 10, th + base + 10), (0, 0, 0), -1)
    cv2.putText(out, text, (5, th + 5), _FONT, font, (255, 255, 255), thick, cv2.LINE_AA)
