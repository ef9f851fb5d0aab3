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
