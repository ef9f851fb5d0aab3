"""``python -m fer.bench_inference``: the old name of ``python -m fer bench inference``, kept because
results/bench_inference.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.cli import alias

    sys.exit(alias("bench inference"))
