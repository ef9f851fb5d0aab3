"""``python -m fer.loss_comparison``, the old name of :mod:`fer.studies.losses`,
kept because results/loss_comparison/comparison.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.studies.losses import main

    sys.exit(main())
