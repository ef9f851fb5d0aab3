"""Knowledge distillation: training targets that blend the labels with a teacher's softened probabilities.

Hinton et al. (2015) train a small student on a large teacher's soft targets, which say how much a face
looks like each class (a fearful face that is also a little surprised), not only which class it is. Here
the teacher (one ``.keras`` model or an ensemble of several, :mod:`fer.ensemble`) sees every augmented
training batch on the fly — the same crop, flip and erasing the student sees — and the student's target is::

    target = (1 - alpha) * labels + alpha * softmax(log(p_teacher) / T)

``T > 1`` softens the teacher's distribution so its small probabilities carry weight. The student trains
with its ordinary cross-entropy on these targets (``TrainConfig(distill_from=..., distill_alpha=...,
distill_temperature=...)``, ``python -m fer train --distill-from teacher.keras``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras
import numpy as np

from fer.preprocess import fit_to_model


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities at temperature ``T``: ``softmax(log p / T)`` (``T = 1`` returns them unchanged).

    Example:
        >>> soften(np.array([[0.9, 0.1]]), 2.0).round(3)
        array([[0.75, 0.25]])
    """
    if temperature <= 0:
        raise ValueError(f"the distillation temperature must be positive, got {temperature}")
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def distill_targets(labels: np.ndarray, teacher_probabilities: np.ndarray, alpha: float,
                    temperature: float) -> np.ndarray:
    """``(1 - alpha) * labels + alpha * soften(teacher, T)``: each row still sums to 1."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"distill_alpha must be in [0, 1], got {alpha}")
    return ((1.0 - alpha) * labels + alpha * soften(teacher_probabilities, temperature)).astype(np.float32)


def load_teacher(source: str | os.PathLike | Sequence[str | os.PathLike]) -> keras.Model:
    """The teacher: one ``.keras`` file, or several averaged as an ensemble."""
    from fer.inference.runtimes import load_keras_model

    if isinstance(source, (list, tuple)):
        if len(source) > 1:
            from fer.ensemble import load_ensemble

            return load_ensemble(source, name="teacher")
        source = source[0]
    return load_keras_model(source)


class DistillBatches(keras.utils.PyDataset):
    """Wrap ``(images, targets[, sample_weights])`` batches (a :class:`fer.data.FERSequence`) so the targets
    blend in ``teacher``'s softened predictions on the same images (see :func:`distill_targets`)."""

    def __init__(self, batches: keras.utils.PyDataset, teacher: keras.Model, alpha: float = 0.5,
                 temperature: float = 2.0) -> None:
        super().__init__()
        if teacher.output_shape[-1] != _num_classes(batches):
            raise ValueError(f"the teacher {teacher.name!r} predicts {teacher.output_shape[-1]} classes but the "
                             f"training data has {_num_classes(batches)}; distil from a model of the same classes")
        distill_targets(np.zeros((1, 1)), np.ones((1, 1)), alpha, temperature)  # validates alpha and T
        self.batches, self.teacher = batches, teacher
        self.alpha, self.temperature = float(alpha), float(temperature)
        self._shape = tuple(teacher.input_shape[1:])

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        images, targets, *weights = self.batches[index]
        teacher_in = fit_to_model(np.asarray(images), self._shape)
        p = np.asarray(self.teacher(teacher_in, training=False))
        return (images, distill_targets(np.asarray(targets, np.float32), p, self.alpha, self.temperature), *weights)

    def on_epoch_end(self) -> None:
        self.batches.on_epoch_end()


def _num_classes(batches) -> int:
    y = getattr(batches, "y", None)  # FERSequence keeps its one-hot / soft targets
    return int(y.shape[-1]) if y is not None else int(np.asarray(batches[0][1]).shape[-1])
