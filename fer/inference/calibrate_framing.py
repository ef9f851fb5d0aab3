"""``python -m fer.inference.calibrate_framing``, the old name of :mod:`fer.studies.framing`,
kept because results/framing_calibration.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.studies.framing import main

    sys.exit(main())
