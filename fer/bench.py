"""``python -m fer.bench``: the old name of ``python -m fer bench data``, kept because
results/bench_data.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.cli import alias

    sys.exit(alias("bench data"))
