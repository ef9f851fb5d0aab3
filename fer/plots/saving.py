"""Writing figures: :func:`save_figure` (an atomic PNG; closes the figure under a non-interactive backend)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt  # pyplot-managed figures, so notebooks show them inline
import matplotlib.ticker
from matplotlib.figure import Figure

from fer.files import save_figure_png

_NON_INTERACTIVE = ("agg", "pdf", "ps", "svg", "pgf", "cairo", "template")



def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120, close: bool | None = None) -> Path:
    """Write ``fig`` as a PNG atomically (temporary file in the same folder, then rename).

    Args:
        fig: the figure.
        path: the ``.png`` file; parent folders are created.
        dpi: resolution.
        close: close the figure afterwards (frees its memory). ``None`` closes it only under a
            non-interactive backend (scripts, CI), so a notebook can still display it.

    Returns:
        The written path.
    """
    path = save_figure_png(fig, path, dpi=dpi)
    if close is None:
        close = matplotlib.get_backend().lower() in _NON_INTERACTIVE
    if close:
        plt.close(fig)
    return path
