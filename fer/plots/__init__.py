"""Figures for datasets, training runs, metrics and model explanations.

Every ``plot_*`` function takes data (a :class:`~fer.data.Dataset`, a metrics dict from
:func:`fer.evaluate.evaluate`, a history, a model) and returns a ``matplotlib`` ``Figure``;
nothing is written as a side effect. Scripts call :func:`save_figure`, which writes the PNG
atomically (and closes the figure under a non-interactive backend).

Figures are created through ``pyplot``, so a notebook cell shows every figure it creates (the
inline backend displays them at the end of the cell). Write ``fig = plot_history(...)`` or end
the line with ``;``: a figure that is also the cell's last value would be shown twice.
"""

from fer.plots.data import plot_class_distribution, plot_samples
from fer.plots.explanations import plot_attention, plot_grad_cam
from fer.plots.saving import save_figure
from fer.plots.training import plot_comparison, plot_confusion_matrix, plot_history, plot_per_class_f1

__all__ = ["plot_attention", "plot_class_distribution", "plot_comparison", "plot_confusion_matrix", "plot_grad_cam",
           "plot_history", "plot_per_class_f1", "plot_samples", "save_figure"]
