"""``python -m fer.serve.bench``: the old name of ``python -m fer bench serve``, kept because
results/bench_serve.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.cli import alias

    sys.exit(alias("bench serve"))
