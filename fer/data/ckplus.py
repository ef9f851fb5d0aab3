"""Reader for the extended Cohn-Kanade dataset (CK+) in its common ``CK+48/<emotion>/S010_004_00000017.png`` form."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fer.data.dataset import Dataset
from fer.data.errors import DataError, SkipReport, check_on_error
from fer.data.folders import load_image_folders
from fer.labels import EMOTIONS, canonical

#: Default CK+ classes: the 7 FER2013 emotions (ids 0..6 as everywhere) plus contempt (id 7).
#: CK+48 has no neutral folder, so ``neutral`` simply has no rows.
CKPLUS_CLASSES: tuple[str, ...] = EMOTIONS + (canonical("contempt"),)

#: CK+48's own folder spelling for classes whose canonical name differs (others use the canonical name).
CKPLUS_FOLDER_NAMES: dict[str, str] = {"angry": "anger", "sad": "sadness"}

#: ``S010_004_00000017.png``: subject ``S010``, sequence ``004``, frame ``00000017``.
FILE_PATTERN = re.compile(r"^(S\d+)_(\d+)_(\d+)\.[A-Za-z]+$")


def load_ckplus(
    root: str | os.PathLike,
    classes: Sequence[str] | None = None,
    on_error: str = "raise",
    *,
    size: int | tuple[int, int] | None = None,
    color: str = "grayscale",
) -> Dataset:
    """Read CK+ (``CK+48/<emotion>/*.png``) with the subject of each face as its group.

    Every row gets split ``"train"``; use :func:`fer.data.split_by_group` to split by subject
    (frames of one subject must not be in two splits).

    Args:
        root: the ``CK+48`` folder, or a folder holding exactly one ``CK+*`` folder.
        classes: class names in label order; ``None`` means :data:`CKPLUS_CLASSES`
            (7 FER2013 emotions + ``contempt``). With ``classes=EMOTIONS`` pass ``on_error="skip"``
            to leave out the contempt folder.
        on_error: ``"raise"`` or ``"skip"`` (see :func:`fer.data.load_image_folders`); also applies to
            file names that do not follow ``S<subject>_<sequence>_<frame>.png``.
        size, color: as in :func:`fer.data.load_image_folders`.

    Returns:
        A Dataset with ``source="ckplus"``, ``origin`` = ``<folder>/<file>``, ``groups`` = subject id
        (``"S010"``); ``meta["sequences"]`` holds ``"S010_004"`` per row.

    Raises:
        DataError: unknown class folder, unreadable image, or a file name without a subject id.
    """
    check_on_error(on_error)
    root = Path(root)
    if root.is_dir():
        inner = [p for p in root.iterdir() if p.is_dir() and p.name.upper().startswith("CK+")]
        if len(inner) == 1 and not any(p.is_dir() and _is_class(p.name) for p in root.iterdir()):
            root = inner[0]
    ds = load_image_folders(root, classes=CKPLUS_CLASSES if classes is None else classes, size=size,
                            color=color, on_error=on_error, source="ckplus")
    report = SkipReport(str(root))
    names = [os.path.basename(o) for o in ds.origin]
    matches = [FILE_PATTERN.match(n) for n in names]
    keep = np.array([m is not None for m in matches])
    for o, ok in zip(ds.origin, keep):
        if not ok:
            reason = "file name does not follow S<subject>_<sequence>_<frame>.png, so its subject is unknown"
            if on_error == "raise":
                raise DataError(f"{root / o}: {reason}. Rename it (CK+ naming) or pass on_error='skip'.")
            report.add(str(root / o), reason)
    report.warn()
    meta = dict(ds.meta, name="ckplus", skipped=list(ds.meta["skipped"]) + report.skipped)
    out = ds.select(keep)
    good = [m for m in matches if m is not None]
    out.groups = np.array([m.group(1) for m in good], dtype=str)
    meta["sequences"] = [f"{m.group(1)}_{m.group(2)}" for m in good]
    out.meta = meta
    return out


def _is_class(name: str) -> bool:
    try:
        canonical(name)
        return True
    except KeyError:
        return False
