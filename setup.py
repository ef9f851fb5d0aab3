"""Build step of the ``fer-course`` distribution: the wheel carries the default model inside the package.

``models/fer2013_default.keras`` is kept once in the repository (17 MB, not copied into ``fer/``);
building a wheel copies it to ``fer/assets/fer2013_default.keras``, where an installed ``fer`` finds it
(:data:`fer.inference.classifier.DEFAULT_MODEL` looks in the repository first, then there). Editable
installs skip the copy: they read the repository's file. Everything else is in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: The shipped default model, relative to the repository root.
MODEL = Path("models") / "fer2013_default.keras"
#: Where the wheel carries it, relative to the package root.
PACKAGED = Path("fer") / "assets" / MODEL.name


class BuildPyWithModel(build_py):
    """``build_py`` that also copies :data:`MODEL` into the built package (not in editable mode)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        if not MODEL.is_file():
            raise FileNotFoundError(f"{MODEL} is missing: the wheel ships the default model; train it with "
                                    "`python -m fer train --recipe fer2013_default` or restore it from git")
        target = Path(self.build_lib) / PACKAGED
        target.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(MODEL), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return [*outputs, str(Path(self.build_lib) / PACKAGED)]


setup(cmdclass={"build_py": BuildPyWithModel})
