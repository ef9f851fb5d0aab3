"""Training speed under each memory allocator: ``python -m fer bench allocator`` → ``results/bench_allocator.json``.

TensorFlow's CPU kernels allocate a fresh buffer for almost every tensor of a training step. With glibc's
``malloc``, buffers above its mmap threshold are mapped from the kernel and handed back on free, so each step
touches new pages and pays a page fault per 4 KiB. On a virtual machine a fault is expensive: on the 2-core
VM this project is developed on, a ``landmark_gnn`` training process spent more time in the kernel than in
its own code (about 290,000 minor faults a second). jemalloc, told never to hand memory back
(``MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1``), keeps the pages mapped and reuses them.

The benchmark times ``train_on_batch`` on random inputs of each model's default shape, in one child process
per allocator (``LD_PRELOAD`` only takes effect at process start), taking turns over ``rounds``, and records
images/s, the CPU seconds spent in user and kernel mode and the minor page faults of the timed steps, and
whether the child really had the allocator loaded (read from ``/proc/self/maps``). Nothing is installed: an
allocator whose library is not found is reported as missing (Debian/Ubuntu: ``apt-get install
libjemalloc2``). Use the winner for any long run::

    LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 python -m fer train ...
"""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path("results/bench_allocator.json")
#: ``name -> (library, extra environment)``; glibc is the process' own allocator (no preload).
ALLOCATORS = {
    "glibc": (None, {}),
    "jemalloc": ("jemalloc", {"MALLOC_CONF": "dirty_decay_ms:-1,muzzy_decay_ms:-1"}),
    "tcmalloc": ("tcmalloc_minimal", {}),
}
DEFAULT_MODELS = ("fer_resnet", "landmark_gnn", "landmark_transformer")


def allocator_env(name: str) -> dict[str, str] | None:
    """The environment variables that make a new process use allocator ``name`` (``{}`` for glibc), or
    ``None`` where its library is not installed.

    Raises:
        ValueError: ``name`` is not one of :data:`ALLOCATORS`.
    """
    if name not in ALLOCATORS:
        raise ValueError(f"allocator {name!r} is not one of {sorted(ALLOCATORS)}")
    library, extra = ALLOCATORS[name]
    if library is None:
        return {}
    soname = ctypes.util.find_library(library)  # e.g. 'libjemalloc.so.2', found by the loader's own rules
    return None if soname is None else {"LD_PRELOAD": soname, **extra}


def _loaded(library: str | None) -> bool:
    """Whether this process runs under ``library`` (``None``: glibc's malloc, i.e. none of the others)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    if library is None:
        return not any(f"lib{lib}" in maps for lib, _ in ALLOCATORS.values() if lib is not None)
    return f"lib{library}" in maps


def time_training(model: str, steps: int, batch: int, warmup: int = 2) -> dict:
    """Images/s, user / kernel CPU seconds and minor page faults of ``steps`` training steps of ``model``
    (random inputs of its default shape, Adam, cross-entropy) in this process, after ``warmup`` steps."""
    import resource
    import time

    import keras
    import numpy as np

    import fer.models

    net = fer.models.build(model)
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    inputs = [rng.random((batch, *t.shape[1:]), dtype=np.float32) for t in net.inputs]
    inputs = inputs[0] if len(inputs) == 1 else inputs
    labels = keras.utils.to_categorical(rng.integers(0, net.output_shape[-1], batch), net.output_shape[-1])
    for _ in range(warmup):
        net.train_on_batch(inputs, labels)
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(steps):
        net.train_on_batch(inputs, labels)
    seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return {"images_per_s": round(steps * batch / seconds, 2), "seconds": round(seconds, 3),
            "user_cpu_s": round(after.ru_utime - before.ru_utime, 2),
            "kernel_cpu_s": round(after.ru_stime - before.ru_stime, 2),
            "minor_page_faults": int(after.ru_minflt - before.ru_minflt)}


def _child(model: str, allocator: str, steps: int, batch: int) -> dict:
    # the child gets only its own allocator's settings, not a preload this process may have been started with
    inherited = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "MALLOC_CONF")}
    cmd = [sys.executable, "-m", "fer.benchmarks.allocator", model, allocator, str(steps), str(batch)]
    done = subprocess.run(cmd, env={**inherited, **allocator_env(allocator), "TF_CPP_MIN_LOG_LEVEL": "3"},
                          capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"bench allocator: the {allocator} child timing {model} failed "
                           f"(exit {done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def run(models=DEFAULT_MODELS, allocators=tuple(ALLOCATORS), *, steps: int = 10, batch: int = 64,
        rounds: int = 2, command: str | None = None) -> dict:
    """Time each of ``models`` under each installed allocator (best of ``rounds``, allocators taking turns);
    return the record, with each model's speed-up over glibc.

    Example:
        >>> record = run(["landmark_gnn"], steps=5)  # doctest: +SKIP
        >>> record["models"]["landmark_gnn"]["speedup"]["jemalloc"]  # doctest: +SKIP
    """
    from fer.environment import load_average, machine, versions
    from fer.provenance import command_line

    if steps < 1 or batch < 1 or rounds < 1:
        raise ValueError(f"--steps, --batch and --rounds must be >= 1, got {steps}, {batch} and {rounds}")
    found = {a: allocator_env(a) for a in allocators}
    missing = sorted(a for a, env in found.items() if env is None)
    for a in missing:
        print(f"[bench allocator] {a}: library lib{ALLOCATORS[a][0]} not found, left out "
              "(Debian/Ubuntu: apt-get install libjemalloc2 / libtcmalloc-minimal4)", file=sys.stderr)
    usable = [a for a in allocators if found[a] is not None]
    load_before = load_average()
    out = {}
    for model in models:
        runs: dict[str, list[dict]] = {a: [] for a in usable}
        for _ in range(rounds):
            for a in usable:
                runs[a].append(_child(model, a, steps, batch))
                print(f"[bench allocator] {model} {a}: {runs[a][-1]['images_per_s']} images/s", file=sys.stderr)
        best = {a: max(r, key=lambda x: x["images_per_s"]) for a, r in runs.items()}
        entry = {"best": best, "runs": runs}
        if "glibc" in best:
            entry["speedup"] = {a: round(b["images_per_s"] / best["glibc"]["images_per_s"], 3)
                                for a, b in best.items() if a != "glibc"}
        out[model] = entry
    return {"command": command or command_line(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "what": f"train_on_batch of random inputs, batch {batch}, {steps} timed steps after 2 warm-up steps, "
                    f"best of {rounds} rounds, one process per allocator and round",
            "machine": machine(), "versions": versions("tensorflow", "keras", "numpy"),
            "load_average_before": load_before, "load_average_after": load_average(),
            "allocators": {a: found[a] for a in allocators}, "missing": missing, "models": out}


def _main(argv: list[str]) -> int:  # the child: python -m fer.benchmarks.allocator MODEL ALLOCATOR STEPS BATCH
    model, allocator, steps, batch = argv[0], argv[1], int(argv[2]), int(argv[3])
    result = time_training(model, steps, batch)
    result["allocator_loaded"] = _loaded(ALLOCATORS[allocator][0])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
