"""``python -m fer.bench``, the old name of :mod:`fer.benchmarks.data`,
kept because results/bench_data.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.benchmarks.data import main

    sys.exit(main())
