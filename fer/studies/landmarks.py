"""The landmark-model study: train each landmark model on FER2013 Training with one protocol, score all of
PublicTest, write a summary.

``python -m fer study landmarks --data ../shared/data/fer2013/fer2013.csv.gz --out results/landmarks`` trains
every entry of ``--runs`` (``model[@graph][+flag|+option=value]:epochs``) with Adam, peak learning rate 1e-3,
cosine decay after one warm-up epoch, batch 64, the landmark augmentation
(:data:`fer.landmarks.data.LANDMARK_AUGMENT`), the last epoch kept (runs before 2026-12-04 kept the epoch of
best PublicTest accuracy: ``keep`` in their config says which), through :func:`fer.train.train` into
``<out>/<model>[_<graph>]/`` run folders, evaluates each on every ``val`` (PublicTest) face, failed meshes
included (they get the fallback face), and rewrites ``<out>/summary.json`` after each run, so a stopped study
keeps what it finished.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

#: Test accuracies the source project reports on FER2013 for its landmark models.
SOURCE_ACCURACY = {"landmark_mlp": 0.452, "landmark_transformer": 0.536, "landmark_gnn": 0.506}
DEFAULT_RUNS = ("landmark_mlp:40", "landmark_gnn@mesh:4", "landmark_gnn@anatomical:4")
#: Each model's usual number of epochs in this study; a run of other epochs gets ``_e<epochs>`` in its folder name.
DEFAULT_EPOCHS = {"landmark_mlp": 40, "landmark_gnn": 4, "fer_landmark_fusion": 3}


def _is_ints(value: str) -> bool:
    return all(part.isdigit() for part in value.split("-"))


def _option_value(value: str) -> int | tuple[int, ...] | str:
    if not _is_ints(value):
        return value
    ints = tuple(int(part) for part in value.split("-"))
    return ints[0] if len(ints) == 1 else ints


def parse_run(spec: str) -> tuple[str, dict, int, str]:
    """``"landmark_gnn@mesh:6"`` → ``("landmark_gnn", {"graph": "mesh"}, 6, "landmark_gnn_mesh")``; each
    ``+flag`` turns a boolean builder option on and each ``+option=value`` sets one (an integer if it reads as
    one, a tuple of integers if written ``64-64-128``, else the word):

    * ``"landmark_mlp+batchnorm:40"`` → ``("landmark_mlp", {"batchnorm": True}, 40, "landmark_mlp_batchnorm")``
    * ``"landmark_gnn@mesh+readout=flatten:4"`` → ``("landmark_gnn", {"graph": "mesh", "readout": "flatten"}, 4,
      "landmark_gnn_mesh_readout_flatten")``
    * ``"landmark_gnn@mesh:40"`` → ``("landmark_gnn", {"graph": "mesh"}, 40, "landmark_gnn_mesh_e40")``

    The last item is the run's folder name; it ends in ``_e<epochs>`` when the epochs are not the model's
    :data:`DEFAULT_EPOCHS`, so runs of two budgets never share a folder."""
    head, _, epochs = spec.partition(":")
    head, *flags = head.split("+")
    model, _, graph = head.partition("@")
    pairs = [f.partition("=") for f in flags]
    if (not epochs.isdigit() or int(epochs) < 1 or not model
            or not all(k.isidentifier() and (not eq or v.isidentifier() or _is_ints(v)) for k, eq, v in pairs)):
        raise ValueError(f"--runs {spec!r}: write model[@graph][+flag|+option=value...]:epochs, e.g. "
                         "landmark_gnn@mesh:6, landmark_mlp+batchnorm:40 or landmark_gnn@mesh+readout=flatten:4")
    options = {**({"graph": graph} if graph else {}),
               **{k: _option_value(v) if eq else True for k, eq, v in pairs}}
    names = [k if not eq else f"{k}_{v}" for k, eq, v in pairs]
    if DEFAULT_EPOCHS.get(model) != int(epochs):
        names.append(f"e{int(epochs)}")
    return model, options, int(epochs), "_".join([model, *([graph] if graph else []), *names])


def run_study(data_spec: str, out: str | os.PathLike = "results/landmarks", runs: list[str] = DEFAULT_RUNS, *,
              seed: int = 42, command: str | None = None) -> dict:
    """Train and score each ``model[@graph]:epochs`` entry of ``runs`` (see the module), rewriting
    ``out/summary.json`` after each; return the summary.

    Example:
        >>> summary = run_study("fer2013.csv.gz", "results/landmarks", ["landmark_mlp:2"])  # doctest: +SKIP
    """
    import fer.models
    from fer.data.atomic import write_json
    from fer.data.sources import load_dataset, resolve_path
    from fer.landmarks.data import landmark_dataset
    from fer.provenance import command_line, file_sha256
    from fer.run_folder import RunFolder
    from fer.train import TrainConfig, train
    from fer.training.config import config_mismatch

    runs = [parse_run(s) for s in runs]
    data = resolve_path(data_spec)
    from fer.landmarks.data import FUSION_MODELS, landmark_config

    ds = landmark_dataset(load_dataset(data_spec), keep_faces=any(r[0] in FUSION_MODELS for r in runs))
    out = Path(out)
    summary_path = out / "summary.json"
    summary = {"command": command or command_line(), "dataset": str(data_spec),
               "dataset_sha256": file_sha256(data) if data.is_file() else None,
               "train_split": "train (FER2013 Training, all faces)",
               "split": "val (FER2013 PublicTest, every face; failed meshes counted, with the fallback face)",
               "protocol": "Adam, lr 1e-3, cosine after 1 warm-up epoch, batch 64, landmark augmentation, seed "
                           f"{seed}, the last epoch scored", "landmarks": ds.meta["landmarks"], "runs": {}}
    if summary_path.is_file():  # keep earlier entries of a study run in pieces
        import json

        summary["runs"] = json.loads(summary_path.read_text()).get("runs", {})
    for model, options, epochs, name in runs:
        cfg = TrainConfig(model=model, model_options=options, epochs=epochs, lr=1e-3, schedule="cosine",
                          warmup_epochs=1 if epochs > 2 else 0, batch_size=64, early_stopping=0, seed=seed,
                          keep="last")  # the last epoch is scored: no epoch is picked by its PublicTest accuracy
        cfg = landmark_config(cfg)  # as its config.json records it, so a resumed run matches its folder
        if RunFolder(out / name).config.is_file() and (diff := config_mismatch(out / name, cfg)):
            raise ValueError(f"{out / name} holds a run with other settings ({diff}); it is kept: move it away or "
                             "write the run differently (its folder name comes from the --runs entry)")
        t0 = time.time()
        run = train(ds, cfg, out / name, verbose=2)
        m = run.metrics["val"]
        summary["runs"][name] = {
            "model": model, "model_options": options, "epochs": epochs, "keep": cfg.keep,
            "params": int(fer.models.build(model, **options).count_params()),
            "wall_seconds": round(time.time() - t0, 1), "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
            "num_samples": m["num_samples"], "mesh_failures": m["mesh_failures"],
            "accuracy_mesh_ok": m["accuracy_mesh_ok"], "source_accuracy": SOURCE_ACCURACY.get(model),
            "run_folder": str(out / name), "metrics_file": str(out / name / "metrics_val.json"),
            "command": summary["command"],  # the study command that trained this entry (several may add to one summary)
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        summary["date"] = summary["runs"][name]["date"]
        write_json(summary, summary_path)
        print(f"[fer study landmarks] {name}: val accuracy {m['accuracy']:.4f} macro-F1 {m['macro_f1']:.4f}",
              file=sys.stderr)
    return summary


