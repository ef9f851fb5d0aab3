"""``python -m fer landmarks reference --data fer2013.csv.gz``: rebuild ``fer/assets/facemesh_reference.npz``
(:mod:`fer.landmarks.reference`)."""

from __future__ import annotations

import argparse
import sys

from fer.cli.handler import handled


def register(sub: argparse._SubParsersAction) -> None:
    from fer.landmarks import reference

    p = sub.add_parser("landmarks", help="rebuild a shipped landmark asset (the mean face and mirror permutation)")
    what = p.add_subparsers(dest="landmarks", required=True)
    r = what.add_parser("reference", help="the mean normalised FER2013 face and the FaceMesh mirror permutation",
                        description=reference.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--data", required=True, help="fer2013.csv(.gz)")
    r.add_argument("--out", default=str(reference.OUT))
    r.set_defaults(func=run_reference)


@handled("landmarks reference")
def run_reference(args: argparse.Namespace) -> int:
    import numpy as np

    from fer.landmarks.reference import write_reference

    ref = write_reference(args.data, args.out)
    print(f"wrote {args.out}: mean of {int(ref['faces'])} faces, "
          f"{int((ref['mirror'] == np.arange(len(ref['mirror']))).sum())} points on the midline", file=sys.stderr)
    return 0
