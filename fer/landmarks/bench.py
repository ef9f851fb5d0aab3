"""``python -m fer.landmarks.bench``: the old name of ``python -m fer bench landmarks``, kept because
results/bench_landmarks.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.cli import alias

    sys.exit(alias("bench landmarks"))
