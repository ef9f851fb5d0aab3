"""Shared test fixtures. Real-data tests use ``shared_data`` and skip when ../shared/data is absent."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


def _start_the_workers_under_jemalloc() -> None:
    """Let the test workers, notebook kernels and command subprocesses run under jemalloc where it is installed.

    TensorFlow allocates a fresh buffer for almost every tensor, and under glibc's malloc on a virtual machine
    the page faults cost more than the arithmetic (``results/bench_allocator.json``). ``LD_PRELOAD`` only takes
    effect when a process starts, so it is set here, in the process that starts pytest-xdist's workers (this
    file is loaded before they start); the tests' results do not depend on the allocator. A preload already
    set is kept; ``FER_TEST_ALLOCATOR=glibc`` keeps glibc's malloc.
    """
    if os.environ.get("FER_TEST_ALLOCATOR", "jemalloc") != "jemalloc" or "LD_PRELOAD" in os.environ:
        return
    from fer.benchmarks.allocator import allocator_env

    os.environ.update(allocator_env("jemalloc") or {})


_start_the_workers_under_jemalloc()


def pytest_configure(config: pytest.Config) -> None:
    """Give each of several test workers a share of the CPU instead of a thread pool the size of the machine.

    By default every TensorFlow process runs ``cpu_count`` inter-op and ``cpu_count`` intra-op threads, so two
    workers on two cores run four pools against each other; with one inter-op thread and ``cpu_count // workers``
    intra-op threads each, a training step of the CNN tests is about 10% faster here (measured with two
    concurrent ``baseline_cnn`` / ``fer_resnet`` fits). Set in the process that starts the workers, before they
    start; settings already in the environment are kept, and a single-process run is left alone.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    workers = getattr(config.option, "numprocesses", None) or 0
    if workers == "auto" or workers == "logical":
        workers = os.cpu_count() or 1
    try:
        workers = int(workers)
    except (TypeError, ValueError):
        return
    if workers < 2:
        return
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", threads)
    os.environ.setdefault("OMP_NUM_THREADS", threads)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FER_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder (../shared/data); the test is skipped when it does not exist."""
    if not (SHARED_DATA / "fer2013" / "fer2013.csv.gz").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def fer2013_real(shared_data):
    """The real FER2013 (Training + PublicTest) as a Dataset, loaded once per session."""
    from fer.data import load_fer2013_csv

    return load_fer2013_csv(shared_data / "fer2013" / "fer2013.csv.gz")
