"""The architecture study: every course model trained under one protocol on FER2013, scored on PublicTest.

``python -m fer study architectures --data ../shared/data/fer2013/fer2013.csv.gz`` trains each entry of
:data:`ENTRIES` in turn into ``results/architectures/<name>/`` (a normal run folder), then records what it
costs and how sure its score is (``study.json``) and writes the comparison (``summary.json`` / ``.csv``,
``comparison.md``, ``figures/``). It is resumable at every level: a finished run is skipped, an interrupted
one resumes from its last epoch (``train``'s BackupAndRestore), and re-running the same command after a stop
continues where it was; ``--report-only`` rebuilds the comparison from the committed files without training.

The protocol (fixed before any result was seen):

* **data**: FER2013 Training (28,709 faces) for training, PublicTest (3,589, the ``val`` split) for the
  evaluation and the per-epoch validation curve; no model selection on it (the last epoch is kept).
* **budget**: the same number of epochs, i.e. of training images seen, for every model (8 on a CPU).
  Training time is the number of epochs times the median epoch's wall time (:func:`fer.training.history.
  training_seconds`), so neither a resume nor a paused background job changes it; runs from before epochs
  were timed give the process' wall time instead, which counts any pause.
* **training**: Adam, peak lr 1e-3 after a 1-epoch linear warm-up, cosine decay to 0, batch 64, label
  smoothing 0.1, the project's face-safe augmentation (:class:`fer.data.pipeline.Augment` defaults),
  float32, seed 0; ArcFace + center loss for the ``mobilenet_cbam_arcface`` entry.
* **input**: 48x48 gray for the models designed for FER2013's crops, 64x64 (gray copied to RGB) for the
  ones designed for 128 or 224 pixels, so the whole study fits about 10 hours of a 2-core CPU.
* **landmark models** (``landmark_mlp``, ``landmark_gnn`` on the ``mesh`` and the ``anatomical`` graph,
  ``landmark_transformer``) see no pixels: their input is the 468 FaceMesh points (x, y, z) of each 48x48
  crop, normalised (centred, scaled, rotated to the eye line), extracted once by the shipped FaceMesh and
  cached. ``fer_landmark_fusion`` sees the 48x48 gray crop and those points, at the budget and input size of
  ``fer_resnet`` (its image branch), so the two compare at the same training budget. A face whose mesh
  failed (presence below 0.5) gets the mean training face and is scored like any other (never dropped); the
  failures are counted per split. Their augmentation is the landmark counterpart of the image one
  (:data:`fer.landmarks.data.LANDMARK_AUGMENT`, what ``train`` uses for ``augment=True``): mirror with the
  left/right point permutation, ±5° roll, ±5% scale; the fusion model's image is mirrored together with its
  points and gets no other image augmentation. Their latency is also given with FaceMesh's own cost added
  (it has to run on the crop first). ``landmark_transformer`` (self-attention over 469 tokens) is the slowest
  model per face on a CPU (about 7 CPU hours at this budget on the 2-core machine of the study, its
  attention dropout off), so it comes last.
* **weights**: ``weights=None`` everywhere on the CPU scale: ImageNet weights cannot be downloaded on the
  machine the study was run on, so the ImageNet backbones start from random weights (said beside every
  number). ``--scale gpu`` is the source projects' setting: 224x224 RGB and ImageNet weights for those
  backbones, 30 epochs, mixed precision on the GPU (``results/architectures_gpu/``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import pandas as pd

from fer.data.atomic import write_json
from fer.data.dataset import Dataset
from fer.landmarks.data import FUSION_MODELS, LANDMARK_AUGMENT, LANDMARK_MODELS
from fer.provenance import command_line
from fer.run_folder import RunFolder
from fer.studies import report
from fer.studies.report import EVAL_SPLIT, RECORD, epoch_log
from fer.train import TrainConfig
from fer.training.config import config_mismatch
from fer.training.history import training_seconds


@dataclass(frozen=True)
class Entry:
    """One model of the study.

    Attributes:
        name: the run's folder name (a model name, or a variant such as ``mobilenet_cbam_arcface``).
        model: the architecture in :func:`fer.models.available`.
        cpu_shape, gpu_shape: input shape on each scale (``(468, 3)`` FaceMesh points for a landmark model;
            the image's for the fusion model, whose points are ``(468, 3)`` too).
        options: builder keyword arguments.
        overrides: :class:`~fer.train.TrainConfig` fields that differ from the protocol (the loss).
        imagenet: the builder has a real ``weights="imagenet"`` path (a ``keras.applications`` backbone).
    """

    name: str
    model: str
    cpu_shape: tuple[int, ...]
    gpu_shape: tuple[int, ...]
    options: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)
    imagenet: bool = False

    @property
    def sees(self) -> str:
        """What the model's input is: ``"image"``, ``"landmarks"`` (FaceMesh points) or ``"image + landmarks"``."""
        return sees(self.model)


def sees(model: str) -> str:
    """``"image"``, ``"landmarks"`` or ``"image + landmarks"``: the input of the registered ``model``."""
    return "landmarks" if model in LANDMARK_MODELS else "image + landmarks" if model in FUSION_MODELS else "image"


_NATIVE, _SMALL_RGB, _POINTS = (48, 48, 1), (64, 64, 3), (468, 3)
#: every model of the study, cheapest first on this CPU (so an interrupted study has the most rows)
ENTRIES: tuple[Entry, ...] = (
    Entry("simple_cnn", "simple_cnn", _SMALL_RGB, (128, 128, 3)),
    Entry("cnn_spatial_attention", "cnn_spatial_attention", _SMALL_RGB, (128, 128, 3)),
    Entry("mobilenet_cbam", "mobilenet_cbam", _SMALL_RGB, (224, 224, 3)),
    Entry("mobilenet_cbam_arcface", "mobilenet_cbam", _SMALL_RGB, (224, 224, 3), options={"embedding": True},
          overrides={"loss": "arcface", "center_loss_weight": 0.01}),
    Entry("landmark_mlp", "landmark_mlp", _POINTS, _POINTS),
    Entry("landmark_gnn_anatomical", "landmark_gnn", _POINTS, _POINTS, options={"graph": "anatomical"}),
    Entry("landmark_gnn_mesh", "landmark_gnn", _POINTS, _POINTS, options={"graph": "mesh"}),
    Entry("baseline_cnn", "baseline_cnn", _NATIVE, _NATIVE),
    Entry("efficientnet_b0", "efficientnet_b0", _SMALL_RGB, (224, 224, 3), imagenet=True),
    Entry("fer_resnet", "fer_resnet", _NATIVE, _NATIVE),
    Entry("fer_landmark_fusion", "fer_landmark_fusion", _NATIVE, _NATIVE),  # fer_resnet's budget and input + points
    Entry("resnet50_cbam", "resnet50_cbam", _SMALL_RGB, (224, 224, 3), imagenet=True),
    Entry("resnet50", "resnet50", _SMALL_RGB, (224, 224, 3), imagenet=True),
    Entry("efficientnet_b3", "efficientnet_b3", _SMALL_RGB, (224, 224, 3), imagenet=True),
    Entry("cbam_5cnn", "cbam_5cnn", _SMALL_RGB, (224, 224, 3)),
    # self-attention over 469 tokens: 1.2 GFLOP per face, about 1-3 training images/s on the 2-core CPU (20-50 h)
    Entry("landmark_transformer", "landmark_transformer", _POINTS, _POINTS),
)

#: each scale's budget and settings; the cpu scale is what results/architectures/ holds
SCALES: dict[str, dict] = {
    "cpu": {"epochs": 8, "out": "results/architectures", "imagenet": False},
    "gpu": {"epochs": 30, "out": "results/architectures_gpu", "imagenet": True},
}

#: the protocol every entry shares (entries only change the model, its input and, for ArcFace, the loss)
PROTOCOL = TrainConfig(
    epochs=SCALES["cpu"]["epochs"], batch_size=64, lr=1e-3, optimizer="adam", schedule="cosine", warmup_epochs=1,
    label_smoothing=0.1, augment=True, mixup_alpha=0.0, early_stopping=0, keep="last", seed=0,
    deterministic=False, mixed_precision="auto", tta=False,
)

#: what the source projects report, each under its own protocol (never comparable number for number)
SOURCE_RESULTS: tuple[dict, ...] = (
    {"model": "cbam_5cnn", "reported": "78.9%", "protocol": "validation accuracy on a merged FER2024 + CK+ set"},
    {"model": "efficientnet_b3", "reported": "83.7%", "protocol": "validation accuracy on a merged FER2024 + CK+ set"},
    {"model": "baseline_cnn", "reported": "58.9%", "protocol": "their own 70/10/20 split of FER2013"},
    {"model": "resnet50", "reported": "43.5%", "protocol": "their own 70/10/20 split, 5 epochs, ImageNet weights"},
    {"model": "cnn_spatial_attention", "reported": "45.4%", "protocol": "their own 70/10/20 split"},
    {"model": "resnet50_cbam", "reported": "67.4%",
     "protocol": "their own 70/10/20 split, 20 epochs, ImageNet weights"},
    {"model": "efficientnet_b0", "reported": "69.99%", "protocol": "FER2013 test, ImageNet weights, 100 GPU epochs"},
    {"model": "landmark_mlp", "reported": "45.2%", "protocol": "FER2013 test, MediaPipe landmarks"},
    {"model": "landmark_transformer", "reported": "53.6%", "protocol": "FER2013 test, MediaPipe landmarks"},
    {"model": "landmark_gnn", "reported": "50.6%", "protocol": "FER2013 test, MediaPipe landmarks"},
    {"model": "baseline_cnn", "reported": "55.5%", "protocol": "FER2013 test, 48x48 gray, up to 100 epochs"},
)


def entry(name: str) -> Entry:
    """The study entry called ``name``."""
    for e in ENTRIES:
        if e.name == name:
            return e
    raise ValueError(f"unknown study entry {name!r}; entries: {[e.name for e in ENTRIES]}")


def run_config(e: Entry, scale: str = "cpu", epochs: int | None = None) -> TrainConfig:
    """The :class:`~fer.train.TrainConfig` of entry ``e`` on ``scale`` (``epochs`` overrides the budget)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
    if epochs is not None and epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {epochs}")
    options = dict(e.options)
    lr = PROTOCOL.lr
    if e.imagenet and SCALES[scale]["imagenet"]:
        options["weights"] = "imagenet"
        lr = 1e-4  # a pretrained backbone is fine-tuned, not trained from scratch
    # a landmark or fusion model's augmentation is the landmark one (what train() makes of augment=True for them),
    # written out so that the run's config.json says what it used and matches this config on the next start
    augment = dict(LANDMARK_AUGMENT) if e.sees != "image" and PROTOCOL.augment is True else PROTOCOL.augment
    return replace(PROTOCOL, model=e.model, input_shape=e.gpu_shape if scale == "gpu" else e.cpu_shape,
                   model_options=options, epochs=epochs or SCALES[scale]["epochs"], lr=lr, augment=augment,
                   **e.overrides)


def budget(cfg: TrainConfig, train_faces: int) -> dict:
    """The training budget of a run: epochs and training images seen (the same for every entry of a scale)."""
    return {"epochs": cfg.epochs, "train_faces": int(train_faces), "images_seen": int(cfg.epochs * train_faces)}


def run_state(run_dir: Path, cfg: TrainConfig) -> str:
    """``"finished"`` (recorded), ``"trained"`` (evaluated, not yet recorded), ``"interrupted"`` or ``"new"``.

    Raises:
        ValueError: the folder holds a run of a different configuration (the protocol changed); it names
            the fields and says how to start that entry over.
    """
    if not RunFolder(run_dir).config.is_file():
        return "new"
    diff = config_mismatch(run_dir, cfg)
    if diff:
        raise ValueError(f"{run_dir} holds a run with other settings than this study's ({diff}); "
                         f"rerun it with --rerun {run_dir.name} or pick another --out")
    if (run_dir / RECORD).is_file():
        return "finished"
    if RunFolder(run_dir).model.is_file() and RunFolder(run_dir).metrics(EVAL_SPLIT).is_file():
        return "trained"
    return "interrupted" if RunFolder(run_dir).backup.is_dir() else "new"


def record_run(e: Entry, cfg: TrainConfig, run_dir: Path, ds: Dataset, scale: str, seconds: float = 2.0) -> dict:
    """Measure a trained run's cost and intervals and write ``run_dir/study.json`` (last, atomically)."""
    import keras

    from fer.confidence import metric_intervals
    from fer.cost import input_specs, measure_cost
    from fer.models import build

    metrics = json.loads(RunFolder(run_dir).metrics(EVAL_SPLIT).read_text())
    history = json.loads(RunFolder(run_dir).history_json.read_text())
    train_faces = int((ds.split == "train").sum())
    spent = budget(cfg, train_faces)
    epochs_run = len(epoch_log(run_dir))  # history.csv has every epoch, across interruptions
    if epochs_run != cfg.epochs:
        raise ValueError(f"{run_dir}: history has {epochs_run} epochs but the budget is {cfg.epochs}; "
                         f"rerun it with --rerun {e.name}")
    model = keras.saving.load_model(RunFolder(run_dir).model, compile=False)
    shape, classes = cfg.resolved_shape(), ds.num_classes
    cost = measure_cost(model, RunFolder(run_dir).model, seconds=seconds,
                        build=lambda: build(cfg.model, shape, classes, **{k: v for k, v in cfg.model_options.items()
                                                                          if k not in ("weights", "embedding")}))
    weights = cfg.model_options.get("weights")
    train_seconds = training_seconds(history)
    seconds = train_seconds or history.get("wall_seconds")  # the wall clock only for runs whose epochs were not timed
    record = {
        "entry": e.name, "model": cfg.model, "scale": scale, "input_shape": list(shape),
        "sees": sees(cfg.model), "inputs": {k: list(v) for k, v in input_specs(model).items()},
        "augment": cfg.augment,
        "weights": weights or "none (random initialisation)",
        "weights_note": ("ImageNet weights cannot be downloaded on the machine this ran on: the backbone "
                         "trained from random weights" if e.imagenet and not weights else None),
        "loss": cfg.loss, "budget": spent,
        "wall_seconds": history.get("wall_seconds"),
        "train_seconds": train_seconds,
        "train_images_per_s_run": spent["images_seen"] / seconds if seconds else None,
        "cost": cost,
        "eval_split": f"{EVAL_SPLIT} (FER2013 PublicTest)" if EVAL_SPLIT in ds.splits() else EVAL_SPLIT,
        "eval_faces": metrics["num_samples"],
        "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
        "confidence_95": metric_intervals(metrics),
        **(landmark_record(ds, metrics) if sees(cfg.model) != "image" else {}),
        "dataset": ds.meta.get("path", ds.meta.get("name", "")),
        "command": command_line(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(record, run_dir / RECORD)
    return record


def landmark_record(ds: Dataset, metrics: dict) -> dict:
    """A landmark or fusion run's FaceMesh bookkeeping: ``mesh_failures`` on the evaluated split (scored with the
    fallback face, from the run's metrics) and ``landmarks`` (failures per split, threshold, fallback, the accuracy
    on the faces whose mesh did not fail). The landmarks come from the extraction cache the training filled."""
    from fer.landmarks.data import landmark_dataset

    info = landmark_dataset(ds, progress=False).meta["landmarks"]
    return {"mesh_failures": int(metrics["mesh_failures"]),
            "landmarks": {"mesh_failures_per_split": info["failed"], "presence_threshold": info["presence_threshold"],
                          "fallback": info["fallback"], "margin": info["margin"],
                          "facemesh_sha256": info["facemesh_sha256"],
                          "accuracy_mesh_ok": metrics.get("accuracy_mesh_ok")}}


def run_study(ds: Dataset, out: str | os.PathLike | None = None, names: Iterable[str] | None = None,
              scale: str = "cpu", epochs: int | None = None, rerun: Iterable[str] = (), seconds: float = 2.0,
              log: Callable[[str], None] | None = None, backup_steps: int = 0) -> list[Path]:
    """Train, evaluate and record every pending entry; skip the finished ones.

    Args:
        ds: the dataset; needs ``train`` and ``val`` splits (FER2013: Training and PublicTest).
        out: the study folder (default the scale's, e.g. ``results/architectures``).
        names: entries to run (default all of :data:`ENTRIES`, in order).
        scale: ``"cpu"`` or ``"gpu"`` (see :data:`SCALES`).
        epochs: override the scale's budget (tests, quick looks); recorded in every run's config.
        rerun: entries to start over even if finished.
        seconds: time spent on each speed measurement.
        log: where progress lines go (default standard error).
        backup_steps: also save each run's resume checkpoint every this many steps (``TrainConfig.backup_steps``;
            not part of the protocol: a run cut inside an epoch resumes after its last saved batch).

    Returns:
        The run folders of the selected entries, finished.

    Raises:
        ValueError: a split is missing, an entry name is unknown, or a folder holds a run of other settings.
    """
    from fer.train import train

    say = log or (lambda line: print(f"[fer study] {line}", file=sys.stderr, flush=True))
    missing = [s for s in ("train", EVAL_SPLIT) if s not in ds.splits()]
    if missing:
        raise ValueError(f"the architecture study needs the splits 'train' and {EVAL_SPLIT!r} (FER2013 Training and "
                         f"PublicTest); this dataset has {ds.splits()}, missing {missing}")
    selected = [entry(n) for n in names] if names is not None else list(ENTRIES)
    rerun = set(rerun)
    unknown = rerun - {e.name for e in ENTRIES}
    if unknown:
        raise ValueError(f"--rerun names unknown entries {sorted(unknown)}; entries: {[e.name for e in ENTRIES]}")
    root = Path(out or SCALES[scale]["out"])
    done = []
    for i, e in enumerate(selected, 1):
        cfg, run_dir = replace(run_config(e, scale, epochs), backup_steps=backup_steps), root / e.name
        if e.name in rerun and run_dir.exists():
            import shutil

            shutil.rmtree(run_dir)
        state = run_state(run_dir, cfg)
        if state == "finished":
            say(f"{i}/{len(selected)} {e.name}: finished, skipped ({run_dir / RECORD})")
        else:
            if state != "trained":
                say(f"{i}/{len(selected)} {e.name}: {'resuming' if state == 'interrupted' else 'training'} "
                    f"{cfg.epochs} epochs at {cfg.resolved_shape()} into {run_dir}")
                train(ds, cfg, run_dir, val_split=EVAL_SPLIT, verbose=2)
            rec = record_run(e, cfg, run_dir, ds, scale, seconds)
            say(f"{i}/{len(selected)} {e.name}: accuracy {rec['accuracy']:.4f}, macro-F1 {rec['macro_f1']:.4f} "
                f"({(rec['train_seconds'] or rec['wall_seconds']) / 60:.0f} min)")
            write_report(root)  # the comparison is current after every finished model, not only at the end
        done.append(run_dir)
    return done


def plan(scale: str = "cpu", names: Sequence[str] | None = None, epochs: int | None = None) -> list[dict]:
    """Each selected entry's settings (model, what it sees, input, options, epochs, lr, loss, augmentation,
    weights), without training."""
    chosen = [entry(n) for n in names] if names is not None else list(ENTRIES)
    rows = []
    for e in chosen:
        cfg = run_config(e, scale, epochs)
        shape = cfg.resolved_shape()
        rows.append({"name": e.name, "model": cfg.model, "sees": e.sees,
                     "input": f"{shape} + {_POINTS}" if e.sees == "image + landmarks" else shape,
                     "options": cfg.model_options, "epochs": cfg.epochs, "lr": cfg.lr, "loss": cfg.loss,
                     "augment": "landmark" if isinstance(cfg.augment, dict) and cfg.augment == LANDMARK_AUGMENT
                     else cfg.augment,
                     "weights": cfg.model_options.get("weights")})
    return rows


def write_report(out: str | os.PathLike, readme: str | os.PathLike | None = None) -> pd.DataFrame:
    """The study's comparison (see :func:`fer.studies.report.write_report`) with this study's protocol and
    the source projects' own numbers."""
    return report.write_report(out, readme, protocol=_protocol_text(), sources=SOURCE_RESULTS)


def _protocol_text() -> str:
    return (__doc__ or "").split("The protocol (fixed before any result was seen):", 1)[-1].strip()


def remeasure_costs(out: str | os.PathLike, names: Iterable[str] | None = None, seconds: float = 2.0,
                    log: Callable[[str], None] | None = None) -> list[Path]:
    """Measure the speed of every finished run again (e.g. on an idle machine) and rewrite its ``study.json``.

    Only ``cost`` changes (and ``cost_remeasured`` records the date); the trained models and their scores do not.
    A run whose ``model.keras`` is not there (the trained files are not committed, so a fresh clone has none)
    is timed on its architecture rebuilt from ``config.json`` with fresh weights: the timings do not depend on
    the weights; its file size stays the one measured after training (``cost_remeasured`` says so).
    """
    import keras

    from fer.cost import measure_cost
    from fer.models import build

    say = log or (lambda line: print(f"[fer study] {line}", file=sys.stderr, flush=True))
    done = []
    for record_file in sorted(Path(out).glob(f"*/{RECORD}")):
        run_dir = record_file.parent
        if names is not None and run_dir.name not in set(names):
            continue
        rec = json.loads(record_file.read_text())
        config = json.loads(RunFolder(run_dir).config.read_text())
        options = {k: v for k, v in config.get("model_options", {}).items() if k not in ("weights", "embedding")}
        shape, classes = tuple(config["input_shape"]), int(config.get("num_classes", 7))
        fresh = partial(build, config["model"], shape, classes, **options)
        trained = RunFolder(run_dir).model
        if trained.is_file():
            rec["cost"] = measure_cost(keras.saving.load_model(trained, compile=False), trained, seconds=seconds,
                                       build=fresh)
            timed = "the trained model.keras"
        else:
            size = rec["cost"].get("file_bytes")
            rec["cost"] = {**measure_cost(fresh(), None, seconds=seconds, build=fresh), "file_bytes": size}
            timed = ("the architecture rebuilt from config.json with fresh weights (model.keras is not in this "
                     "checkout; timings do not depend on the weights; file_bytes is the size measured after training)")
        rec["cost_remeasured"] = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                  "command": command_line(), "timed": timed}
        write_json(rec, record_file)
        say(f"{run_dir.name}: {rec['cost']['latency_batch1_ms']:.1f} ms/face, "
            f"{rec['cost']['throughput_batch256']:.0f} faces/s at batch 256 (load {rec['cost']['machine']})")
        done.append(run_dir)
    return done

