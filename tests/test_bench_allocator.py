"""The allocator benchmark: allocator environments, missing libraries reported, the preload really taking effect."""

import pytest

from fer.benchmarks import allocator


def test_allocator_env_names_what_is_wrong():
    assert allocator.allocator_env("glibc") == {}
    with pytest.raises(ValueError, match="allocator 'hoard' is not one of"):
        allocator.allocator_env("hoard")


def test_a_missing_library_is_reported_and_left_out(monkeypatch):
    monkeypatch.setitem(allocator.ALLOCATORS, "nosuch", ("nosuch_allocator_lib", {}))
    record = allocator.run(["baseline_cnn"], allocators=("glibc", "nosuch"), steps=1, batch=4, rounds=1)
    assert record["missing"] == ["nosuch"] and record["allocators"]["nosuch"] is None
    entry = record["models"]["baseline_cnn"]
    assert list(entry["best"]) == ["glibc"] and entry["speedup"] == {}
    assert entry["best"]["glibc"]["images_per_s"] > 0 and entry["best"]["glibc"]["user_cpu_s"] >= 0


@pytest.mark.skipif(allocator.allocator_env("jemalloc") is None, reason="libjemalloc is not installed here")
def test_each_child_runs_under_its_own_allocator_whatever_this_process_was_started_with(monkeypatch):
    monkeypatch.setenv("LD_PRELOAD", allocator.allocator_env("jemalloc")["LD_PRELOAD"])  # e.g. tests/conftest.py's
    glibc = allocator._child("baseline_cnn", "glibc", 1, 4)
    jemalloc = allocator._child("baseline_cnn", "jemalloc", 1, 4)
    assert glibc["allocator_loaded"] is True and jemalloc["allocator_loaded"] is True
    assert glibc["images_per_s"] > 0 and jemalloc["images_per_s"] > 0


def test_the_run_records_which_allocator_it_had(monkeypatch):
    from fer.environment import allocator as preloaded

    monkeypatch.delenv("LD_PRELOAD", raising=False)
    assert preloaded() == "glibc malloc"
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
    assert preloaded() == "libjemalloc.so.2"
