"""``python -m fer.inference.bench_detect``: the old name of ``python -m fer bench detect``, kept because
results/bench_detect.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.cli import alias

    sys.exit(alias("bench detect"))
