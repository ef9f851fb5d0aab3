"""The first stage of a run, :func:`plan_run`: every check and decision made before anything is written (which
folder, which state it is in, what ``config.json`` will say); and what a run folder holds (:func:`run_state`,
:func:`finished_run`, :class:`Run`)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import keras

from fer import distribute
from fer.data.dataset import Dataset
from fer.data.sources import resolve_path
from fer.errors import UsageError
from fer.files import json_default, write_json
from fer.landmarks.data import prepare_landmark_inputs
from fer.provenance import file_sha256
from fer.run_folder import RUNS_ROOT, RunFolder
from fer.training.config import TrainConfig, as_list, check_out_dir

#: ``config.json`` keys that say how a run was started, not what it trains (ignored when comparing runs)
_VOLATILE = frozenset({"command", "written", "precision"})


@dataclass
class Run:
    """What :func:`fer.train.train` returns: the trained model, its history and the run folder."""

    model: keras.Model
    history: dict
    out_dir: Path
    config: TrainConfig
    metrics: dict = field(default_factory=dict)
    status: str = "trained"  # "finished": the run folder already held this finished run; nothing was trained


@dataclass
class RunPlan:
    """What :func:`plan_run` decided: the data and configuration to train, where, and from which state.

    ``state`` is :func:`run_state`'s (``"new"`` also after ``force``); ``record`` is the run's ``config.json``
    without the fields written with it (command, precision, date).
    """

    ds: Dataset
    cfg: TrainConfig
    out: Path
    record: dict
    state: str
    strategy: object
    replicas: int
    chief: bool
    train_split: str
    val_split: str | None
    has_val: bool


def plan_run(ds: Dataset, cfg: TrainConfig, out_dir: str | os.PathLike | None, *, train_split: str = "train",
             val_split: str | None = "val", strategy=None, force: bool = False) -> RunPlan:
    """Check that ``cfg`` can train on ``ds`` into ``out_dir`` and decide how; writes nothing.

    Args:
        ds, cfg, out_dir, train_split, val_split, strategy, force: as :func:`fer.train.train` takes them
            (``cfg`` already checked by :func:`fer.training.config.check_config`).

    Returns:
        A :class:`RunPlan`; its ``state`` is ``"finished"`` when ``out_dir`` already holds this run (nothing to do).

    Raises:
        UsageError: ``out_dir`` cannot be written, or holds a run of another configuration (without ``force``).
        ValueError: the dataset cannot train this configuration.
    """
    ds, cfg = prepare_landmark_inputs(ds, cfg)  # landmark models: FaceMesh landmarks (cached) instead of pixels
    if cfg.soft_labels and ds.soft_labels is None:
        raise ValueError(f"soft_labels=True (--soft-labels) needs soft labels, and dataset {ds.meta.get('name', '')!r} "
                         "has none: use --data ferplus or fer2013+ferplus (FER+ votes), or give Dataset.soft_labels")
    if cfg.soft_labels and cfg.loss == "arcface":
        raise ValueError("soft_labels=True cannot train loss='arcface': its margin needs one true class per face")
    if not (ds.split == train_split).any():
        raise ValueError(f"train_split={train_split!r}: the dataset has no faces in it (splits present: {ds.splits()})")
    out = Path(out_dir) if out_dir else RUNS_ROOT / f"{cfg.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    strategy = distribute.get_strategy(strategy if strategy is not None else cfg.strategy)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    chief = distribute.is_chief(strategy)
    if chief:
        check_out_dir(out)
    has_val = val_split is not None and val_split in ds.splits()
    record = {**cfg.to_dict(), "dataset": ds.meta.get("path", ds.meta.get("name", "")),
              "train_split": train_split, "val_split": val_split if has_val else None,
              "num_classes": ds.num_classes, "classes": list(ds.classes),
              "train_faces": int((ds.split == train_split).sum()),
              **({"init_from_sha256": _sha256_or_missing(resolve_path(cfg.init_from))} if cfg.init_from else {}),
              **_split_record(ds),
              **({"distill_from_sha256": [_sha256_or_missing(resolve_path(f)) for f in as_list(cfg.distill_from)]}
                 if cfg.distill_from else {})}
    state = run_state(out)  # every worker reads the chief's folder: they resume (or stop) together
    if state != "new" and not force:
        changes = _config_changes(RunFolder(out), record)
        if changes:
            raise UsageError(f"--out {out} holds a {state} run of another configuration ({'; '.join(changes[:3])}); "
                             "pass --force (force=True) to replace it, or choose another --out")
        if state == "finished":
            print(f"[fer.train] {out} holds this run, finished {read_json(RunFolder(out).record).get('written', '')}: "
                  "nothing to do (--force / force=True trains it again)", file=sys.stderr)
    return RunPlan(ds, cfg, out, record, "new" if force else state, strategy, replicas, chief, train_split,
                   val_split, has_val)


def run_state(out: str | os.PathLike) -> str:
    """What the run folder ``out`` holds: ``"new"`` (nothing, or the start of a run that never finished an
    epoch), ``"interrupted"`` (a checkpoint to resume from), ``"trained"`` (training ended; the final model or
    its evaluation was not written), or ``"finished"`` (``run.json`` was written)."""
    run = RunFolder(out)
    if run.record.is_file():
        return "finished"
    if run.has_checkpoint():
        return "interrupted"
    if run.final_weights.is_file() and run.history_json.is_file():
        return "trained"
    return "new"


def finished_run(out: str | os.PathLike, cfg: TrainConfig | None = None) -> Run:
    """The :class:`Run` a finished run folder holds (its model, history and metrics), without training."""
    run = RunFolder(out)
    cfg = cfg or TrainConfig.from_dict({k: v for k, v in read_json(run.config).items()
                                        if k in TrainConfig.__dataclass_fields__})
    metrics = {tag: read_json(path) for tag, path in run.metrics_files().items()}
    model = keras.saving.load_model(run.model, compile=False)
    return Run(model, read_json(run.history_json), run.root, cfg, metrics, status="finished")


def environment() -> dict:
    """Versions and devices, written as a run's ``env.json``."""
    from fer.environment import allocator, devices, machine, versions

    found = devices()
    return {
        **versions("python"),
        **machine(),
        **versions("tensorflow", "keras", "numpy", missing_ok=True),
        **(versions("jax") if found["backend"] == "jax" else {}),
        "backend": found["backend"],
        "devices": found["devices"],
        "gpus": found["gpus"],
        "mixed_precision_policy": keras.mixed_precision.global_policy().name,
        "allocator": allocator(),
    }


def read_json(path: Path) -> dict:
    """A run-folder JSON file (it must exist)."""
    return json.loads(Path(path).read_text())


def write_stamped_json(path: Path, data: dict) -> None:
    """Write ``data`` with a ``written`` UTC time stamp (the run folder's JSON records), atomically."""
    write_json({**data, "written": datetime.now(timezone.utc).isoformat(timespec="seconds")}, path)


def _sha256_or_missing(path: Path) -> str:
    return file_sha256(path) if path.is_file() else "missing"  # init_weights then says what is wrong


def _split_record(ds: Dataset) -> dict:
    """How the dataset's splits were made when the project made them (a carved validation, a re-split):
    the settings and a hash of the rows, so a resumed run can check it trains on the same split."""
    made = {}
    for key in ("carved_validation", "resplit"):
        if key in ds.meta:
            settings = {k: v for k, v in ds.meta[key].items() if k != "rows"}
            settings["split_sha256"] = hashlib.sha256(ds.split.astype(str).tobytes()).hexdigest()
            made[key] = settings
    return made


def _config_changes(run: RunFolder, record: dict) -> list[str]:
    """The fields in which ``record`` (a new run's ``config.json``) differs from the one saved in ``run``."""
    if not run.config.is_file():
        return []
    saved = read_json(run.config)
    new = json.loads(json.dumps(record, default=json_default))
    return [f"{k}: {saved[k]!r} -> {new[k]!r}" for k in new
            if k in saved and k not in _VOLATILE and saved[k] != new[k]]
