"""``python -m fer.serve.bench``, the old name of :mod:`fer.benchmarks.serve`,
kept because results/bench_serve.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.benchmarks.serve import main

    sys.exit(main())
