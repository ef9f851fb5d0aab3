"""``python -m fer.bench_inference``, the old name of :mod:`fer.benchmarks.inference`,
kept because results/bench_inference.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.benchmarks.inference import main

    sys.exit(main())
