"""Save models and reload them in a fresh Python process that imports only ``fer``: what came back, per model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np

CHILD = r"""
import json, sys
import numpy as np
import keras
import fer  # importing the package registers every "fer>" object; fer.models is not imported here
manifest = json.load(open(sys.argv[1]))
data = np.load(manifest["arrays"])
report = {}
for case, path in manifest["models"].items():
    model = keras.saving.load_model(path)
    names = manifest["inputs"][case]
    x = {n: data[f"{case}/in/{n}"] for n in names} if len(names) > 1 else data[f"{case}/in/{names[0]}"]
    out = np.asarray(model(x, training=False))
    report[case] = {"max_diff": float(np.max(np.abs(out - data[f"{case}/out"]))),
                    "trainable": len(model.trainable_weights), "weights": len(model.weights),
                    "output": model.layers[-1].name,
                    "fer_modules": sorted(m for m in sys.modules if m.startswith("fer."))}
print("REPORT" + json.dumps(report))
"""


def reload_in_fresh_process(models: Mapping[str, keras.Model], inputs: Mapping[str, np.ndarray | Mapping],
                            folder: Path) -> dict[str, dict]:
    """Save each model of ``models`` into ``folder``, reload it in a new interpreter and run it on its ``inputs``
    (an array, or a dict by input name for a model of several inputs).

    Returns:
        case → ``max_diff`` (largest |output after reload − output before|), ``trainable`` and ``weights``
        (variable counts after reload), ``output`` (the last layer's name) and ``fer_modules`` (the ``fer.*``
        modules the child process had imported).
    """
    arrays, paths, names = {}, {}, {}
    for case, model in models.items():
        x = inputs[case]
        named = dict(x) if isinstance(x, Mapping) else {"x": x}
        names[case] = list(named)
        arrays.update({f"{case}/in/{n}": np.asarray(v) for n, v in named.items()})
        arrays[f"{case}/out"] = np.asarray(model(x if isinstance(x, Mapping) else np.asarray(x), training=False))
        paths[case] = str(folder / f"{case}.keras")
        model.save(paths[case])
    np.savez(folder / "arrays.npz", **arrays)
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"arrays": str(folder / "arrays.npz"), "models": paths, "inputs": names}))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(manifest)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.split("REPORT", 1)[1])
