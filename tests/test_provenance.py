"""Results record the command as a user would retype it."""

from __future__ import annotations

import sys
import types

from fer.provenance import command_line


def test_module_runs_are_recorded_as_python_dash_m(monkeypatch):
    fake = types.ModuleType("__main__")
    fake.__spec__ = types.SimpleNamespace(name="fer.__main__")
    monkeypatch.setitem(sys.modules, "__main__", fake)
    got = command_line(["/somewhere/fer/__main__.py", "train", "--data", "a b.csv"])
    assert got == "python -m fer train --data 'a b.csv'"


def test_scripts_are_recorded_with_their_path(monkeypatch):
    fake = types.ModuleType("__main__")
    fake.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", fake)
    assert command_line(["tools/run.py", "--x", "1"]) == "python tools/run.py --x 1"


def test_weights_sha256_tells_identical_weights_from_different_ones():
    import keras
    import numpy as np

    from fer.provenance import weights_sha256

    def tiny(seed):
        keras.utils.set_random_seed(seed)
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    a, b, c = tiny(0), tiny(0), tiny(1)
    assert weights_sha256(a) == weights_sha256(b) != weights_sha256(c)
    kernel, bias = a.get_weights()
    b.set_weights([kernel, bias + np.float32(1e-7)])  # one ulp-sized change is a different model
    assert weights_sha256(a) != weights_sha256(b)
