"""``python -m fer.inference.bench_detect``, the old name of :mod:`fer.benchmarks.detect`,
kept because results/bench_detect.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.benchmarks.detect import main

    sys.exit(main())
