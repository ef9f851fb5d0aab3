"""``python -m fer.landmarks.bench``, the old name of :mod:`fer.benchmarks.landmarks`,
kept because results/bench_landmarks.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.benchmarks.landmarks import main

    sys.exit(main())
