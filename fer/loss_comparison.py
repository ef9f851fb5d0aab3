"""``python -m fer.loss_comparison``: the old name of ``python -m fer study losses``, kept because
results/loss_comparison/ records it as its command."""

if __name__ == "__main__":
    import sys

    from fer.cli import alias

    sys.exit(alias("study losses"))
