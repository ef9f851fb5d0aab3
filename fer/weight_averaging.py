"""Re-estimate a model's BatchNorm statistics on clean training faces, and average the weights of
several checkpoints of one model (stochastic weight averaging).

Checkpoints taken along one training run (the ends of the cosine cycles of a warm-restart schedule, or
the last epochs of a run at a constant learning rate) lie in one basin of the loss; their average sits
nearer its centre and usually generalises better than any of them, at no cost at inference: it is one
model of the same size (Izmailov et al. 2018). The averaged BatchNorm moving statistics belong to none of
the averaged networks, so :func:`update_batchnorm` recomputes them from training images.

Command line (writes the model; score it with ``python -m fer evaluate``)::

    python -m fer recalibrate models/fer2013_default.keras --data ../shared/data/fer2013/fer2013.csv.gz \\
        --out recalibrated.keras
    python -m fer recalibrate run/cycle1.keras run/cycle2.keras --data ... --out averaged.keras
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import keras
import numpy as np

from fer.files import write_npz


def average_weights(models: Sequence[keras.Model], weights: Sequence[float] | None = None) -> keras.Model:
    """A new model with the (weighted) mean of every weight of ``models``.

    Args:
        models: two or more models of one architecture (same layer names and weight shapes).
        weights: one non-negative weight per model (default: equal).

    Returns:
        A clone of ``models[0]`` holding the averaged weights. BatchNorm moving statistics are averaged as
        well; call :func:`update_batchnorm` to replace them with statistics of the averaged network.

    Raises:
        ValueError: fewer than two models, a different architecture, or unusable ``weights``.
    """
    if len(models) < 2:
        raise ValueError(f"average_weights: give at least two models, got {len(models)}")
    if weights is None:
        weights = [1.0] * len(models)
    w = np.asarray(weights, dtype="float64")
    if w.shape != (len(models),) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"average_weights: weights={list(weights)} must be {len(models)} non-negative numbers "
                         "with a positive sum")
    w = w / w.sum()
    first = models[0]
    signature = _signature(first)
    for i, model in enumerate(models[1:], start=1):
        if _signature(model) != signature:
            raise ValueError(f"average_weights: model {i} ({model.name!r}) is not the architecture of model 0 "
                             f"({first.name!r}): layer names or weight shapes differ")
    averaged = keras.models.clone_model(first)
    averaged.set_weights([sum(wi * v.astype("float64") for wi, v in zip(w, values)).astype(values[0].dtype)
                          for values in zip(*(m.get_weights() for m in models))])
    return averaged


def _signature(model: keras.Model) -> list[tuple[str, tuple[tuple[int, ...], ...]]]:
    return [(layer.name, tuple(tuple(v.shape) for v in layer.weights)) for layer in model.layers if layer.weights]


#: the layers :func:`update_batchnorm` switches off (each has a ``rate`` and draws nothing at rate 0)
DROPOUT_LAYERS = (keras.layers.Dropout, keras.layers.SpatialDropout1D, keras.layers.SpatialDropout2D,
                  keras.layers.SpatialDropout3D, keras.layers.GaussianDropout, keras.layers.AlphaDropout)


def update_batchnorm(model: keras.Model, data: np.ndarray | Iterable, batch_size: int = 256) -> int:
    """Set every BatchNorm layer's moving mean and variance to their average over ``data``.

    The model runs in training mode (each BatchNorm layer normalises with its batch's statistics, as during
    training) and the moving statistics become the exact running mean of the per-batch statistics (the
    momentum of batch ``k`` is ``k / (k + 1)``), as ``torch.optim.swa_utils.update_bn`` does. Weights do not
    change. Dropout is switched off meanwhile: a BatchNorm layer after a dropout layer then measures the
    activations it gets at test time (no variance shift, Li et al. 2019), and the same model and data always
    give the same statistics.

    Statistics gathered during training describe *augmented* faces (shifted brightness and contrast, erased
    patches); re-estimating them on the clean training faces matches what the model sees at test time
    (the same idea as AdaBN, Li et al. 2016, and FixRes, Touvron et al. 2019).

    Args:
        model: a Keras model with BatchNormalization layers.
        data: images in the model's input format (an array, cut into ``batch_size`` batches), or an iterable
            of batches (arrays, or ``(x, y, ...)`` tuples such as a :class:`fer.data.pipeline.FERSequence`
            without augmentation).
        batch_size: faces per forward pass for an array; use the training batch size so the per-batch
            statistics match.

    Returns:
        The number of BatchNorm layers updated (0: nothing to do).

    Raises:
        ValueError: ``data`` holds no images.
    """
    bns = [layer for layer in _all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    if not bns:
        return 0
    if isinstance(data, np.ndarray):
        data = [data[i:i + batch_size] for i in range(len(data))[::batch_size]]
    saved = [(bn, bn.momentum, bn.trainable) for bn in bns]
    dropouts = [(layer, layer.rate) for layer in _all_layers(model) if isinstance(layer, DROPOUT_LAYERS)]
    seen = 0
    try:
        for bn in bns:
            bn.trainable = True  # a frozen BatchNorm runs in inference mode and would not update
        for layer, _ in dropouts:
            layer.rate = 0.0  # Keras' dropout layers draw no mask at rate 0
        indexable = hasattr(data, "__len__") and hasattr(data, "__getitem__")  # a list or a keras PyDataset
        for k, batch in enumerate((data[i] for i in range(len(data))) if indexable else data):
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            for bn in bns:
                bn.momentum = k / (k + 1)
            model(np.asarray(x, dtype="float32"), training=True)
            seen += len(x)
    finally:
        for bn, momentum, trainable in saved:
            bn.momentum, bn.trainable = momentum, trainable
        for layer, rate in dropouts:
            layer.rate = rate
    if not seen:
        raise ValueError("update_batchnorm: no images given; pass the training images")
    return len(bns)


def _all_layers(model: keras.Model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


class WeightAverage(keras.callbacks.Callback):
    """Keep the running mean of the model's weights at the end of every epoch from ``start_epoch`` on.

    The mean is stored in ``path`` (an ``.npz`` written through a temporary file) after every epoch, with
    the number of epochs in it and the last epoch added, so a run resumed by ``BackupAndRestore`` goes on
    averaging where it stopped and never counts an epoch twice. :meth:`load` reads the average back.

    Args:
        path: where the running average lives (e.g. the run's ``backup/swa.npz``).
        start_epoch: the first (0-based, counted over the whole run) epoch whose weights are averaged.
    """

    def __init__(self, path: str | os.PathLike, start_epoch: int = 0) -> None:
        super().__init__()
        self.path, self.start_epoch = Path(path), int(start_epoch)
        self.mean: list[np.ndarray] | None = None
        self.dtypes: list[str] = []
        self.count, self.last_epoch = 0, -1

    def on_train_begin(self, logs=None) -> None:
        if self.path.is_file():
            with np.load(self.path) as saved:
                self.count, self.last_epoch = int(saved["count"]), int(saved["last_epoch"])
                self.mean = [saved[f"w{i}"] for i in range(int(saved["n"]))]
                self.dtypes = [str(d) for d in saved["dtypes"]]

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if epoch < self.start_epoch or epoch <= self.last_epoch:
            return
        current = self.model.get_weights()
        self.dtypes = [w.dtype.str for w in current]
        weights = [np.asarray(w, dtype="float64") for w in current]
        self.count += 1
        if self.mean is None:
            self.mean = weights
        else:
            self.mean = [m + (w - m) / self.count for m, w in zip(self.mean, weights)]
        self.last_epoch = epoch
        write_npz(self.path, count=self.count, last_epoch=epoch, n=len(self.mean), dtypes=np.array(self.dtypes),
                  **{f"w{i}": m for i, m in enumerate(self.mean)})

    @staticmethod
    def load(path: str | os.PathLike) -> list[np.ndarray]:
        """The averaged weights stored at ``path``, for ``model.set_weights``.

        Raises:
            FileNotFoundError: nothing was averaged yet (no epoch reached ``start_epoch``).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no weight average was stored; did the run reach its averaging epochs?")
        with np.load(path) as saved:
            return [saved[f"w{i}"].astype(d) for i, d in zip(range(int(saved["n"])), saved["dtypes"])]
