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
def test_the_child_really_runs_under_the_preloaded_allocator():
    assert not allocator._loaded("jemalloc")  # this test process: glibc's malloc
    timed = allocator._child("baseline_cnn", "jemalloc", 1, 4)
    assert timed["allocator_loaded"] is True and timed["images_per_s"] > 0


def test_the_run_records_which_allocator_it_had(monkeypatch):
    from fer.environment import allocator as preloaded

    monkeypatch.delenv("LD_PRELOAD", raising=False)
    assert preloaded() == "glibc malloc"
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
    assert preloaded() == "libjemalloc.so.2"
