"""``python -m fer.landmarks.study``, the old name of :mod:`fer.studies.landmarks`,
kept because results/landmarks/summary.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.studies.landmarks import main

    sys.exit(main())
