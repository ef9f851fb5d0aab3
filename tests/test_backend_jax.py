"""Training on Keras' JAX backend, how a machine without TensorFlow (the GPU machines) trains: a run with a
teacher to distil from completes there, says which backend it had, and its model loads on TensorFlow."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed (pip install jax)")
def test_a_distillation_run_on_the_jax_backend_trains_and_its_model_loads_on_tensorflow(tmp_path):
    import keras

    import fer  # noqa: F401  (registers the custom layers)
    from fer.data import make_synthetic

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "fer", "train", "--data", "synthetic:8", "--model", "baseline_cnn", "--epochs", "1",
           "--distill-from", str(ROOT / "models" / "fer2013_default.keras"), "--quiet", "--out", str(out)]
    done = subprocess.run(cmd, cwd=tmp_path, env={**os.environ, "KERAS_BACKEND": "jax"}, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    env = json.loads((out / "env.json").read_text())
    assert env["backend"] == "jax" and env["jax"] and env["devices"]
    assert json.loads((out / "config.json").read_text())["distill_from"]

    model = keras.saving.load_model(out / "model.keras")  # this process: TensorFlow
    faces = make_synthetic(n_per_class=1, seed=3).images.astype("float32") / 255.0
    probs = np.asarray(model.predict(faces, verbose=0))
    assert probs.shape == (7, 7) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
