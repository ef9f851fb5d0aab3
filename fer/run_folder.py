"""The run folder: the one place that names the files a training run writes and later steps read.

:func:`fer.train.train` writes a run folder; :mod:`fer.evaluate`'s ``--out``, ``python -m fer recalibrate``,
:mod:`fer.compare`, :mod:`fer.model_card` and the studies read it. They all take the file names from
:class:`RunFolder`, so a name is spelled once::

    run/
      config.json            the TrainConfig and the data it trained on (written first)
      env.json               versions and devices
      history.csv            one row per epoch, rewritten at every epoch end
      history.json           the same epochs as lists, and the training wall time (written when training ends)
      best.keras             the best epoch by validation accuracy (training loss without validation)
      final.weights.h5       the last epoch's training weights (resuming after training had ended)
      final.keras            the last epoch, float32 classifier
      model.keras            the run's model: best.keras or final.keras (``TrainConfig.keep``)
      metrics_<split>.json   evaluation of model.keras (``metrics_<split>_tta.json`` with test-time augmentation)
      plots/                 confusion_<split>.png, per_class_f1_<split>.png, history.png
      backup/                resume checkpoints (phase<p>/, phase<p>.done.*, swa.npz); deleted when training ends
      run.json               written last: the run is finished
      speed.json             (optional) an inference benchmark; recalibrate.json (optional) a recalibration record
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

#: where ``python -m fer train`` puts a run folder when no ``--out`` is given
RUNS_ROOT = Path("results") / "runs"


@dataclass(frozen=True)
class RunFolder:
    """The files of one run folder, by what they hold.

    Args:
        root: the run folder (it need not exist yet).

    Example:
        >>> run = RunFolder("results/runs/demo")
        >>> run.model.as_posix(), run.metrics("val").name, run.metrics("test", tta=True).name
        ('results/runs/demo/model.keras', 'metrics_val.json', 'metrics_test_tta.json')
        >>> run.confusion_plot("val").relative_to(run.root).as_posix()
        'plots/confusion_val.png'
    """

    root: Path

    CONFIG = "config.json"
    ENV = "env.json"
    HISTORY_CSV = "history.csv"
    HISTORY_JSON = "history.json"
    BEST = "best.keras"
    FINAL = "final.keras"
    FINAL_WEIGHTS = "final.weights.h5"
    MODEL = "model.keras"
    RECORD = "run.json"
    PLOTS = "plots"
    BACKUP = "backup"
    SPEED = "speed.json"
    RECALIBRATION = "recalibrate.json"
    TEACHER = "teacher.npz"
    #: what a worker of a multi-worker run copies from the chief's folder to resume with it (:mod:`fer.distribute`)
    RESUME_FILES = (BACKUP, HISTORY_CSV, HISTORY_JSON, FINAL_WEIGHTS)
    #: what a fresh run deletes from a folder so nothing of an earlier run leaks into it (glob patterns)
    STALE_PATTERNS = (HISTORY_CSV, HISTORY_JSON, "metrics_*.json", "*.keras", FINAL_WEIGHTS, RECORD, TEACHER)

    def __init__(self, root: str | os.PathLike) -> None:
        object.__setattr__(self, "root", Path(root))

    def __fspath__(self) -> str:
        return os.fspath(self.root)

    def __truediv__(self, name: str) -> Path:
        return self.root / name

    # ------------------------------------------------------------------ the files, by what they hold

    @property
    def config(self) -> Path:
        """``config.json``: the run's :class:`fer.train.TrainConfig` and data, written before training."""
        return self.root / self.CONFIG

    @property
    def env(self) -> Path:
        """``env.json``: versions and devices (:func:`fer.train.environment`)."""
        return self.root / self.ENV

    @property
    def history_csv(self) -> Path:
        """``history.csv``: one row per epoch, across interruptions."""
        return self.root / self.HISTORY_CSV

    @property
    def history_json(self) -> Path:
        """``history.json``: the epochs as lists per metric, and ``wall_seconds``."""
        return self.root / self.HISTORY_JSON

    @property
    def best_model(self) -> Path:
        """``best.keras``: the checkpoint of the best monitored epoch."""
        return self.root / self.BEST

    @property
    def final_model(self) -> Path:
        """``final.keras``: the last epoch's float32 classifier."""
        return self.root / self.FINAL

    @property
    def final_weights(self) -> Path:
        """``final.weights.h5``: the last epoch's training weights, saved as soon as training ends."""
        return self.root / self.FINAL_WEIGHTS

    @property
    def model(self) -> Path:
        """``model.keras``: the run's model (the one evaluated, compared and shipped)."""
        return self.root / self.MODEL

    @property
    def record(self) -> Path:
        """``run.json``: written last; its presence means the run is finished."""
        return self.root / self.RECORD

    @property
    def plots(self) -> Path:
        """``plots/``: the figures of the run's evaluation."""
        return self.root / self.PLOTS

    @property
    def backup(self) -> Path:
        """``backup/``: what an interrupted run resumes from."""
        return self.root / self.BACKUP

    @property
    def swa(self) -> Path:
        """``backup/swa.npz``: the running weight average of :attr:`fer.train.TrainConfig.swa_epochs`."""
        return self.backup / "swa.npz"

    @property
    def speed(self) -> Path:
        """``speed.json``: an inference benchmark of the run's model, when one was measured."""
        return self.root / self.SPEED

    @property
    def recalibration(self) -> Path:
        """``recalibrate.json``: what ``python -m fer recalibrate --record`` did to the shipped model."""
        return self.root / self.RECALIBRATION

    @property
    def teacher_predictions(self) -> Path:
        """``teacher.npz``: the distillation teacher's predictions on the training faces (``distill_cache``)."""
        return self.root / self.TEACHER

    @property
    def history_plot(self) -> Path:
        """``plots/history.png``."""
        return self.plots / "history.png"

    def phase_backup(self, phase: int) -> Path:
        """``backup/phase<p>/``: the BackupAndRestore checkpoint of phase ``phase``."""
        return self.backup / f"phase{phase}"

    def phase_done_weights(self, phase: int) -> Path:
        """``backup/phase<p>.done.weights.h5``: the weights at the end of a finished phase (not the last)."""
        return self.backup / f"phase{phase}.done.weights.h5"

    def phase_done_record(self, phase: int) -> Path:
        """``backup/phase<p>.done.json``: the wall time of a finished phase."""
        return self.backup / f"phase{phase}.done.json"

    @staticmethod
    def tag(split: str, tta: bool = False) -> str:
        """The name an evaluation is filed under: ``split``, or ``<split>_tta`` with test-time augmentation."""
        return f"{split}_tta" if tta else split

    def metrics(self, split: str, tta: bool = False) -> Path:
        """``metrics_<split>.json`` (``metrics_<split>_tta.json`` with ``tta``): an evaluation of :attr:`model`.

        Args:
            split: the evaluated split (``"val"``, ``"test"``...).
            tta: the evaluation with test-time augmentation.

        Returns:
            The path (whether or not it exists).
        """
        return self.root / f"metrics_{self.tag(split, tta)}.json"

    def confusion_plot(self, tag: str) -> Path:
        """``plots/confusion_<tag>.png`` (``tag`` from :meth:`tag`)."""
        return self.plots / f"confusion_{tag}.png"

    def per_class_f1_plot(self, tag: str) -> Path:
        """``plots/per_class_f1_<tag>.png`` (``tag`` from :meth:`tag`)."""
        return self.plots / f"per_class_f1_{tag}.png"

    # ------------------------------------------------------------------ reading

    def metrics_files(self) -> dict[str, Path]:
        """``{tag: path}`` of every ``metrics_<tag>.json`` in the folder, sorted by file name."""
        return {p.stem.removeprefix("metrics_"): p for p in sorted(self.root.glob("metrics_*.json"))}

    def read(self, path: str | os.PathLike, missing_ok: bool = True) -> dict:
        """The JSON file ``path`` (one of this folder's, e.g. ``run.read(run.config)``) as a dict.

        Args:
            path: the file, as the properties and methods of this class name it.
            missing_ok: return ``{}`` for a missing file instead of raising ``FileNotFoundError``.
        """
        path = Path(path)
        if missing_ok and not path.is_file():
            return {}
        return json.loads(path.read_text())

    def has_checkpoint(self) -> bool:
        """True when ``backup/`` holds a file: an unfinished run that can resume."""
        return any(p.is_file() for p in self.backup.rglob("*"))


def default_run_folder(name: str) -> Path:
    """``results/runs/<name>``: the run folder of ``python -m fer train`` without ``--out``."""
    return RUNS_ROOT / name


def evaluation_plots(metrics_file: str | os.PathLike) -> dict[str, Path]:
    """The figures ``python -m fer evaluate --out X.json`` writes next to ``X.json``.

    Args:
        metrics_file: the metrics JSON path given to ``--out``.

    Returns:
        ``{"confusion": X_confusion.png, "per_class_f1": X_per_class_f1.png}`` (same folder as ``X.json``).

    Example:
        >>> sorted(p.name for p in evaluation_plots("results/eval/m.json").values())
        ['m_confusion.png', 'm_per_class_f1.png']
    """
    path = Path(metrics_file)
    return {"confusion": path.with_name(f"{path.stem}_confusion.png"),
            "per_class_f1": path.with_name(f"{path.stem}_per_class_f1.png")}


def comparison_files(out_dir: str | os.PathLike) -> dict[str, Path]:
    """The files ``python -m fer compare --out DIR`` writes (:func:`fer.compare.compare_runs`).

    Args:
        out_dir: the comparison folder.

    Returns:
        ``{"csv": DIR/comparison.csv, "json": DIR/comparison.json, "chart": DIR/comparison.png}``.

    Example:
        >>> sorted(p.name for p in comparison_files("results/cmp").values())
        ['comparison.csv', 'comparison.json', 'comparison.png']
    """
    out = Path(out_dir)
    return {"csv": out / "comparison.csv", "json": out / "comparison.json", "chart": out / "comparison.png"}
