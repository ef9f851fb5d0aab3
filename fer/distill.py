"""Knowledge distillation: training targets that blend the labels with a teacher's softened probabilities.

Hinton et al. (2015) train a small student on a large teacher's soft targets, which say how much a face
looks like each class (a fearful face that is also a little surprised), not only which class it is. Here
the teacher (one ``.keras`` model or an ensemble of several, :mod:`fer.ensemble`) sees every augmented
training batch on the fly — the same crop, flip and erasing the student sees — and the student's target is::

    target = (1 - alpha) * labels + alpha * softmax(log(p_teacher) / T)

``T > 1`` softens the teacher's distribution so its small probabilities carry weight. The student trains
with its ordinary cross-entropy on these targets (``TrainConfig(distill_from=..., distill_alpha=...,
distill_temperature=...)``, ``python -m fer train --distill-from teacher.keras``).

A teacher's forward pass can cost far more than a small student's training step (the shipped model's
442 MFLOP per face against a 45 MFLOP student), so on a CPU the on-the-fly teacher sets the pace.
``distill_cache=True`` (``--distill-cache``) instead asks the teacher once, before the first epoch, about
every un-augmented training face and its mirror image (the mean of the two), keeps the answers in the run
folder (``teacher.npz``, reused when an interrupted run resumes) and blends them into the targets of every
augmented view of that face (:func:`cached_teacher_predictions`). The student then trains at its own speed;
what it gives up is the teacher's opinion of each particular crop and erasure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras
import numpy as np

from fer.files import write_npz
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


def teacher_predictions(teacher: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The teacher's probabilities on un-augmented faces, each the mean over the face and its mirror image."""
    from fer.evaluate import predict_proba

    return predict_proba(teacher, images, batch_size=batch_size, tta="flip")


def cached_teacher_predictions(source: str | os.PathLike | Sequence[str | os.PathLike], images: np.ndarray,
                               cache: str | os.PathLike) -> np.ndarray:
    """:func:`teacher_predictions` of the teacher ``source`` on ``images``, computed once and kept in ``cache``.

    The cache (an ``.npz`` written atomically) records the teacher files' sha256 and a fingerprint of the
    faces; it is used only when both match, so a changed teacher or training set is asked again.

    Args:
        source: the teacher ``.keras`` file, or several (an ensemble), as for :func:`load_teacher`.
        images: the un-augmented training faces, ``N x H x W x C`` ``uint8``.
        cache: the file to read or write (a run folder's ``teacher.npz``).

    Returns:
        ``float32`` array ``N x num_classes``.
    """
    from fer.provenance import file_sha256

    files = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    key = np.array([file_sha256(f) for f in files] + [_fingerprint(images)])
    if os.path.isfile(cache):
        with np.load(cache) as stored:
            if "key" in stored and np.array_equal(stored["key"], key):
                return stored["probabilities"].astype(np.float32)
    probabilities = teacher_predictions(load_teacher(source), images)
    write_npz(cache, probabilities=probabilities, key=key)
    return probabilities


def _fingerprint(images: np.ndarray) -> str:
    import hashlib

    return f"{np.asarray(images).shape}:{hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()}"


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
