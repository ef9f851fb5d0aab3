"""A run's per-epoch record: :class:`EpochLog` keeps ``history.csv`` up to date across interruptions and phases;
the readers and writers of ``history.csv`` and ``history.json``'s lists; the run's training time from it."""

from __future__ import annotations

import csv
import io
import math
import statistics
import time
from pathlib import Path

import keras

from fer.files import write_text

#: the ``history.csv`` column with each epoch's wall time, in seconds
EPOCH_SECONDS = "epoch_seconds"


class EpochLog(keras.callbacks.Callback):
    """The run's per-epoch record, keyed by epoch: ``history.csv`` is rewritten (atomically) from it at every
    epoch end, before the BackupAndRestore checkpoint of that epoch is saved, so the file always holds every
    epoch the checkpoint holds; an epoch trained again after an interruption replaces its row.

    At the first epoch of a ``fit`` the rows from that epoch on are dropped (they were not kept by the
    checkpoint) and ``checkpoint.best`` is set to the best monitored value of the epochs before, so
    ``best.keras`` stays the best epoch of the whole run across resumes and phases.

    Each row also holds ``epoch_seconds``, the epoch's wall time (training and validation), so a run's training
    time survives a resume: see :func:`training_seconds`.
    """

    def __init__(self, path: Path, rows: dict[int, dict], checkpoint=None, monitor: str = "loss",
                 write: bool = True) -> None:
        super().__init__()
        self.path, self.rows, self.checkpoint, self.monitor, self.write = Path(path), rows, checkpoint, monitor, write
        self._first = True
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._started = time.perf_counter()
        if not self._first:
            return
        self._first = False
        for e in [e for e in self.rows if e >= epoch]:
            del self.rows[e]
        seen = [r[self.monitor] for r in self.rows.values()
                if isinstance(r.get(self.monitor), float) and math.isfinite(r[self.monitor])]
        if self.checkpoint is not None and seen:
            self.checkpoint.best = (max if "acc" in self.monitor else min)(seen)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.rows[epoch] = {**{k: float(v) for k, v in (logs or {}).items()},
                            EPOCH_SECONDS: time.perf_counter() - self._started}
        for e in [e for e in self.rows if e > epoch]:
            del self.rows[e]
        if self.write:
            write_history_csv(self.rows, self.path)


def write_history_csv(rows: dict[int, dict], path: Path) -> None:
    """Write ``{epoch: {metric: value}}`` as ``history.csv`` (``epoch`` then the metrics, sorted, like Keras'
    CSVLogger), through a temporary file."""
    keys = sorted({k for r in rows.values() for k in r})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for e in sorted(rows):
        writer.writerow([e, *(repr(rows[e][k]) if k in rows[e] else "" for k in keys)])
    write_text(buf.getvalue(), path)


def read_history_csv(path: Path) -> dict[int, dict]:
    """``{epoch: {metric: value}}`` from a ``history.csv`` (empty when there is none)."""
    if not Path(path).is_file():
        return {}
    with open(path, newline="") as f:
        return {int(r.pop("epoch")): {k: float(v) for k, v in r.items() if v not in ("", None)}
                for r in csv.DictReader(f)}


def history_from_rows(rows: dict[int, dict]) -> dict[str, list]:
    """``history.json``'s lists (one value per epoch, in epoch order; ``None`` where an epoch lacks a metric)."""
    keys = sorted({k for r in rows.values() for k in r})
    return {k: [rows[e].get(k) for e in sorted(rows)] for k in keys}



def training_seconds(history: dict) -> float | None:
    """A run's training time from ``history.json``: the number of epochs times the median epoch's wall time.

    Unlike the wall time of the process (``wall_seconds``), it counts the epochs trained before an interruption
    and does not count the time a stopped or paused job waited, nor a slow first epoch (graph tracing). ``None``
    when fewer than half the epochs were timed (runs from before epochs were timed).
    """
    epochs = len(history.get("loss") or [])
    timed = [s for s in history.get(EPOCH_SECONDS) or [] if isinstance(s, (int, float)) and s > 0]
    if not epochs or 2 * len(timed) < epochs:
        return None
    return epochs * statistics.median(timed)
