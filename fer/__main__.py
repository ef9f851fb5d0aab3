"""``python -m fer COMMAND ...``: the command line lives in :mod:`fer.cli`."""

import sys

from fer.cli import main

if __name__ == "__main__":
    sys.exit(main())
