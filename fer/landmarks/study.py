"""``python -m fer.landmarks.study``: the old name of ``python -m fer study landmarks``, kept because
results/landmarks/ records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.cli import alias

    sys.exit(alias("study landmarks"))
