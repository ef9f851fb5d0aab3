"""The resume checkpoint of a run (``backup/``): :class:`Backup`, which also says how far into an epoch it is,
and :class:`Remainder`, the batches of that epoch still to train after a resume.

Keras' ``BackupAndRestore`` saved every ``save_freq`` steps restarts the epoch it was cut in from its first batch,
so a run interrupted inside an epoch trains that epoch's first batches twice (more images than its budget),
and a checkpoint saved inside the first epoch after a resume records epoch 0. :class:`Backup` records the
epoch it is in and ``batches_done``, the batches of that epoch the saved weights (and optimizer state, so the
learning-rate schedule too) have seen; :func:`resume_point` reads it back and :func:`fer.training.stages.fit_phases`
trains the rest of that epoch (:class:`Remainder`) before the next ones: each batch of the budget once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras

from fer.files import write_json

METADATA = "training_metadata.json"  # the file name Keras' BackupAndRestore uses


class Backup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that saves at every epoch end as well as every ``save_freq`` steps, and records the
    epoch it is in and ``batches_done`` (0 at an epoch end).

    Args:
        backup_dir: the phase's backup folder.
        save_freq: ``"epoch"`` or a number of steps.
        done_before: batches of the first epoch of this ``fit`` trained before it (a resumed epoch's
            :class:`Remainder` starts there), added to the count it records.
    """

    def __init__(self, backup_dir: str | os.PathLike, save_freq="epoch", done_before: int = 0) -> None:
        super().__init__(str(backup_dir), save_freq=save_freq, delete_checkpoint=False)
        self.done_before = int(done_before)
        self._at_epoch_end = False

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._current_epoch = epoch  # Keras leaves it at 0 until the first epoch end of a resumed fit

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self._at_epoch_end = False
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self._at_epoch_end = True
        super().on_epoch_end(epoch, logs)  # saves when save_freq is "epoch"
        if self.save_freq != "epoch":
            self._save_model()
        self.done_before = 0

    def _save_model(self) -> None:
        super()._save_model()
        done = 0 if self._at_epoch_end else self.done_before + self._last_batch_seen + 1
        write_json({"epoch": self._current_epoch, "batch": self._last_batch_seen, "batches_done": done},
                   Path(self.backup_dir) / METADATA)


def resume_point(backup_dir: str | os.PathLike) -> tuple[int, int] | None:
    """``(epoch, batches_done)`` of the checkpoint in ``backup_dir`` when it was saved inside an epoch by
    :class:`Backup`; ``None`` when there is none, it is at an epoch end, or Keras' own callback wrote it."""
    try:
        meta = json.loads((Path(backup_dir) / METADATA).read_text())
    except (OSError, ValueError):
        return None
    done = meta.get("batches_done")
    return (int(meta["epoch"]), int(done)) if isinstance(done, int) and done > 0 else None


class Remainder(keras.utils.PyDataset):
    """The batches of ``batches`` (a ``PyDataset``) from index ``start`` on, for one epoch: the rest of an epoch
    cut short. Its epoch end moves ``batches`` on to its next epoch, as Keras would have."""

    def __init__(self, batches, start: int) -> None:
        if not 0 < start < len(batches):
            raise ValueError(f"Remainder: start={start} must be inside the epoch's {len(batches)} batches")
        super().__init__(workers=getattr(batches, "workers", 1), use_multiprocessing=False)
        self.batches, self.start = batches, int(start)

    def __len__(self) -> int:
        return len(self.batches) - self.start

    def __getitem__(self, index: int):
        return self.batches[index + self.start]

    def on_epoch_end(self) -> None:
        self.batches.on_epoch_end()
