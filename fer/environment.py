"""The environment a result was measured in: library versions and the machine, collected in one place for
every record (benchmarks, audits, notebooks)."""

from __future__ import annotations

import importlib
import os
import platform

#: A record's name for a library → the module to import, where the two differ.
IMPORT_NAMES = {"scikit-learn": "sklearn", "opencv": "cv2", "pil": "PIL"}


def versions(*names: str, missing_ok: bool = False) -> dict[str, str | None]:
    """``{name: version}`` for each name, in the order given.

    ``"python"`` is the interpreter's version, ``"fer"`` this package's, any other name a library's
    ``__version__`` (``"opencv"`` is ``cv2``, ``"scikit-learn"`` ``sklearn``, ``"pil"`` ``PIL``; see
    :data:`IMPORT_NAMES`).

    Args:
        names: what to report.
        missing_ok: report a library that is not installed as ``None`` instead of raising ``ImportError``.

    Example:
        >>> sorted(versions("python", "numpy"))
        ['numpy', 'python']
        >>> versions("no_such_library", missing_ok=True)
        {'no_such_library': None}
    """
    out: dict[str, str | None] = {}
    for name in names:
        if name == "python":
            out[name] = platform.python_version()
            continue
        try:
            module = importlib.import_module(IMPORT_NAMES.get(name, name))
        except ImportError:
            if not missing_ok:
                raise
            out[name] = None
            continue
        out[name] = getattr(module, "__version__", None)
    return out


def machine() -> dict[str, object]:
    """The machine: ``platform``, ``processor`` and ``cpu_count``.

    Example:
        >>> sorted(machine())
        ['cpu_count', 'platform', 'processor']
    """
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count()}


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, rounded to 0.01 (``None`` where the OS has none): how busy
    the machine was while a speed was measured."""
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def allocator() -> str:
    """The memory allocator this process was started with: what ``LD_PRELOAD`` names (e.g.
    ``libjemalloc.so.2``), else ``"glibc malloc"`` (training speed depends on it: ``python -m fer bench allocator``)."""
    preload = [os.path.basename(p) for p in os.environ.get("LD_PRELOAD", "").replace(":", " ").split() if p]
    return " ".join(preload) or "glibc malloc"


def devices() -> dict[str, object]:
    """The Keras backend and the devices it computes on: ``{"backend", "devices", "gpus"}``.

    TensorFlow (the project's default) and JAX (how the GPU machines without TensorFlow train, see
    ``KERAS_BACKEND``) name their devices in their own way; the names are what the backend says.

    Example:
        >>> sorted(devices())
        ['backend', 'devices', 'gpus']
    """
    import keras

    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        return {"backend": name, "devices": [d.name for d in tf.config.list_logical_devices()],
                "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}
    if name == "jax":
        import jax

        found = jax.devices()
        return {"backend": name, "devices": [str(d) for d in found],
                "gpus": [str(d) for d in found if d.platform == "gpu"]}
    return {"backend": name, "devices": [], "gpus": []}
