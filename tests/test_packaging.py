"""The wheel: built from the source tree, installed non-editable elsewhere, it finds its default model."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "fer2013_default.keras"
#: What a wheel build reads: the build configuration, the readme, the package and the shipped model.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "fer", "models/fer2013_default.keras")


def _run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV")}
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.wheel
def test_installed_wheel_classifies_the_demo_photo_with_its_own_default_model(tmp_path):
    # 1. build the wheel from a copy of the tree (no build/ or egg-info in the checkout), offline
    src = tmp_path / "src"
    for rel in BUILD_INPUTS:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        if (REPO / rel).is_dir():
            shutil.copytree(REPO / rel, src / rel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / rel, src / rel)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", tmp_path / "dist", src], cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("fer_course-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        info = archive.getinfo("fer/assets/fer2013_default.keras")
    assert info.file_size == MODEL.stat().st_size

    # 2. a fresh venv that sees this interpreter's packages (TensorFlow & co.) but not its fer
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv], cwd=tmp_path)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=tmp_path).stdout.strip())
    outer = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (purelib / "_outer_site_packages.pth").write_text("\n".join(outer) + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
          "--ignore-installed", "-q", wheel], cwd=tmp_path)

    # 3. `python -m fer predict` from an empty folder: the demo photo, the packaged model
    work = tmp_path / "empty"
    work.mkdir()
    done = _run([python, "-m", "fer", "predict", "--out", "out"], cwd=work)
    report = json.loads((work / "out" / "predictions.json").read_text())
    model = Path(report["model"])
    assert model.is_relative_to(purelib / "fer") and model.name == "fer2013_default.keras", report["model"]
    assert Path(report["images"][0]["image"]).is_relative_to(purelib / "fer" / "assets")
    with open(work / "out" / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["label"] in report["classes"], rows  # one face found, a label written
    assert "grace_hopper.jpg: 1 face" in done.stdout
