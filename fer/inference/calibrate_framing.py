"""``python -m fer.inference.calibrate_framing``: the old name of ``python -m fer study framing``, kept because
results/framing_calibration.json records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.cli import alias

    sys.exit(alias("study framing"))
