"""Reader for image-folder datasets: Kaggle's ``root/<split>/<emotion>/*.jpg`` and flat ``root/<class>/*``."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fer.data.dataset import SPLITS, Dataset
from fer.data.errors import DataError, SkipReport, check_on_error
from fer.data.images import (
    IMAGE_EXTENSIONS,
    check_color,
    check_size,
    decode_image,
    resize_image,
)
from fer.labels import ALIASES, EMOTIONS, canonical

#: Split folder names (lower-case) and the project split each one means.
#: Kaggle's msambare/fer2013 image release has ``train/`` (28709 faces) and ``test/`` (7178 = FER2013's
#: PublicTest + PrivateTest); its ``test/`` is read as split ``"test"``, as the folder says.
SPLIT_FOLDERS: dict[str, str] = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "publictest": "val",
    "test": "test", "testing": "test", "privatetest": "test",
}

#: Images smaller than this many pixels a side are refused (a 1x1 or 4x4 file is no face crop; resizing it to
#: 48x48 makes a blur that would train as if it were a face). FER2013's faces are 48x48.
MIN_IMAGE_SIDE = 8


def folder_classes(names: Sequence[str]) -> tuple[str, ...]:
    """The classes a set of class-folder names makes, in a stable order: the seven
    :data:`~fer.labels.EMOTIONS` first with their canonical ids (0-6, whether or not each has a folder),
    then every other class (``pain``, ``contempt``...) in alphabetical order.

    Example:
        >>> folder_classes(["Pain", "happy", "anger", "boredom"])[7:]
        ('boredom', 'pain')
    """
    extra = sorted({class_key(n) for n in names} - set(EMOTIONS))
    return EMOTIONS + tuple(extra)


def resolve_classes(classes: Sequence[str] | None) -> tuple[str, ...]:
    """Canonical class names for a reader's ``classes`` argument (``None`` → :data:`fer.labels.EMOTIONS`).

    Known aliases are canonicalised (``"anger"`` → ``"angry"``); other names (``"pain"``, ``"boredom"``)
    are kept, lower-cased, so callers can use their own classes.
    """
    if classes is None:
        return EMOTIONS
    if isinstance(classes, str):
        raise TypeError(f"classes must be a list of class names, got the string {classes!r}")
    out = tuple(class_key(c) for c in classes)
    dupes = sorted({c for c in out if out.count(c) > 1})
    if dupes:
        raise ValueError(f"classes {list(classes)} name the same class more than once: {dupes}")
    if not out:
        raise ValueError("classes must not be empty")
    return out


def class_key(name: str) -> str:
    """The canonical name of a folder or class name, or the name lower-cased when it is no known emotion."""
    try:
        return canonical(name)
    except KeyError:
        return name.strip().lower()


def load_image_folders(
    root: str | os.PathLike,
    classes: Sequence[str] | None = None,
    size: int | tuple[int, int] | None = None,
    color: str = "grayscale",
    on_error: str = "raise",
    *,
    split: str = "train",
    source: str | None = None,
) -> Dataset:
    """Read a folder-per-class image dataset into a :class:`Dataset`.

    Two layouts are recognised:

    * **split layout** (Kaggle's ``msambare/fer2013`` release): ``root/{train,val,test}/<class>/*.png|jpg``.
      Split folders may also be called ``training``, ``validation``/``valid``/``PublicTest``,
      ``testing``/``PrivateTest`` (any case). Kaggle's ``test/`` folder becomes split ``"test"``.
    * **flat layout**: ``root/<class>/*``; every row gets split ``split``.

    Class folders are mapped **by name** through :func:`fer.labels.canonical` (``anger``, ``Angry``,
    ``angry`` are all *angry*), never by alphabetical position, so labels follow ``classes`` order.

    Args:
        root: the dataset folder.
        classes: class names in label order; ``None`` means the 7 FER2013 :data:`~fer.labels.EMOTIONS`.
            Other names (``["happy", "pain"]``) are allowed; folder names must then match them.
            ``"auto"`` reads them from the folder names (:func:`folder_classes`: the seven emotions keep
            their ids, other classes follow alphabetically).
        size: output ``(height, width)`` or side; images of another size are resized. ``None`` uses the
            first image's size.
        color: ``"grayscale"`` (1 channel) or ``"rgb"`` (3 channels, RGB order).
        on_error: ``"raise"`` stops at an unknown class folder, an unreadable image, an
            image smaller than :data:`MIN_IMAGE_SIDE` pixels a side, an entry that cannot be inspected (a
            symlink cycle, a permission error) or an empty split, naming it; ``"skip"`` leaves it out and
            warns (the list is in ``ds.meta["skipped"]``). A class folder without images in a split that has
            images is read (its class just has no faces there) with a warning; ``ds.meta["empty_class_folders"]``
            lists them.
        split: the split of every row in the flat layout (one of ``"train"``, ``"val"``, ``"test"``).
        source: the source name stored per row (default: ``root``'s folder name).

    Returns:
        A Dataset; ``origin`` holds each file's path relative to ``root``. ``meta`` records the layout,
        the class folder mapping, skipped entries, ignored non-image files and how many images were resized.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        DataError: unknown class folder, unreadable or tiny image, uninspectable entry (symlink
            cycle), empty split, no images at all.
    """
    check_on_error(on_error)
    channels = check_color(color)
    target = check_size(size)
    auto = isinstance(classes, str) and classes == "auto"
    classes = EMOTIONS if auto else resolve_classes(classes)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder. Expected root/<split>/<class>/*.png or root/<class>/*.png.")
    report = SkipReport(str(root))
    ignored: list[str] = []

    subdirs = sorted((p for p in _scan(root) if not p.name.startswith(".") and _kind(report, on_error, p) == "dir"),
                     key=lambda p: p.name)
    split_dirs = [p for p in subdirs if p.name.lower() in SPLIT_FOLDERS]
    if split_dirs:
        layout = "splits"
        for p in subdirs:
            if p not in split_dirs:
                _bad(report, on_error, p.path,
                     f"folder {p.name!r} is not a split folder, but {root} has split folders "
                     f"{[q.name for q in split_dirs]}; expected only {sorted(set(SPLIT_FOLDERS))}",
                     "Move or remove it")
        parts = [(SPLIT_FOLDERS[p.name.lower()], Path(p.path)) for p in split_dirs]
    else:
        layout = "flat"
        parts = [(split, root)]
    if auto:
        classes = folder_classes([p.name for _, folder in parts for p in _scan(folder)
                                  if not p.name.startswith(".") and _is_dir(p)])

    files: list[str] = []
    labels: list[int] = []
    splits: list[str] = []
    mapping: dict[str, str] = {}
    empty_classes: list[str] = []
    empty: list[str] = []  # class folders without images in a split that has images
    for split_name, folder in parts:
        n_before = len(files)
        entries = [(p, _kind(report, on_error, p)) for p in _scan(folder) if not p.name.startswith(".")]
        class_dirs = [p for p, kind in entries if kind == "dir"]
        ignored += [os.path.relpath(p.path, root) for p, kind in entries if kind == "file"]
        if not class_dirs:
            _bad(report, on_error, str(folder), f"has no class folders (expected {folder}/<class>/*.png)",
                 "Add class folders")
            continue
        for cdir in sorted(class_dirs, key=lambda p: p.name):
            key = class_key(cdir.name)
            if key not in classes:
                known = sorted(set(ALIASES) | set(classes))
                _bad(report, on_error, cdir.path,
                     f"class folder {cdir.name!r} is not one of the classes {list(classes)} "
                     f"(folder names understood: {known})",
                     "Rename the folder, pass classes=[...] that includes it")
                continue
            mapping[cdir.name] = key
            label = classes.index(key)
            n_class = len(files)
            for entry in sorted(_scan(cdir.path), key=lambda p: p.name):
                if entry.name.startswith("."):
                    continue
                kind = _kind(report, on_error, entry)
                if kind is None:
                    continue
                if kind != "file" or os.path.splitext(entry.name)[1].lower() not in IMAGE_EXTENSIONS:
                    ignored.append(os.path.relpath(entry.path, root))
                    continue
                files.append(entry.path)
                labels.append(label)
                splits.append(split_name)
            if len(files) == n_class:
                empty_classes.append(cdir.path)
        if len(files) == n_before:
            _bad(report, on_error, str(folder),
                 f"split {split_name!r} contains no {'/'.join(IMAGE_EXTENSIONS)} images",
                 "Add images or remove the empty folder")
        else:  # a split with images: an empty class folder in it is worth a word (its class has no faces there)
            empty += [os.path.relpath(path, root) for path in empty_classes]
        empty_classes.clear()

    images = None
    keep = np.ones(len(files), dtype=bool)
    resized = 0
    for i, path in enumerate(files):
        try:
            image = decode_image(path, color)
        except (ValueError, OSError) as exc:
            _bad(report, on_error, path, f"unreadable image: {exc}", "Delete or replace the file")
            keep[i] = False
            continue
        if min(image.shape[:2]) < MIN_IMAGE_SIDE:
            _bad(report, on_error, path, f"image is {image.shape[1]}x{image.shape[0]} pixels, smaller than the "
                 f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} a face crop needs", "Delete or replace the file")
            keep[i] = False
            continue
        if images is None:
            target = target or image.shape[:2]
            images = np.empty((len(files), *target, channels), dtype=np.uint8)
        if image.shape[:2] != target:
            image = resize_image(image, target)
            resized += 1
        images[i] = image
    if images is None or not keep.any():
        raise DataError(f"{root}: no readable images found (layout {layout!r}; skipped {len(report)} entries: "
                        f"{report.skipped[:3]}). Expected root/<split>/<class>/*.png or root/<class>/*.png.")
    report.warn()
    if empty:
        warnings.warn(f"{root}: {len(empty)} class folder(s) hold no {'/'.join(IMAGE_EXTENSIONS)} images, so their "
                      f"class has no faces in that split: {empty[:5]}{' ...' if len(empty) > 5 else ''}. Add images "
                      "or remove the folders (listed in ds.meta['empty_class_folders']).", stacklevel=2)
    rel = np.array([os.path.relpath(f, root) for f in files], dtype=str)
    return Dataset(
        images=images[keep],
        labels=np.asarray(labels, dtype=np.int64)[keep],
        split=np.asarray(splits, dtype=str)[keep],
        source=np.full(int(keep.sum()), source or root.name),
        origin=rel[keep],
        classes=classes,
        meta={"name": root.name, "path": str(root), "layout": layout, "class_folders": mapping,
              "color": color, "resized": resized, "skipped": report.skipped, "ignored": ignored,
              "empty_class_folders": empty},
    )


def _scan(folder) -> list[os.DirEntry]:
    """Directory entries of ``folder`` (``os.DirEntry`` caches the file type: no extra stat per file)."""
    with os.scandir(folder) as it:
        return list(it)


def _kind(report: SkipReport, on_error: str, entry: os.DirEntry) -> str | None:
    """``"dir"``, ``"file"`` or ``"other"`` for a directory entry (symlinks followed), or ``None`` when it cannot
    be inspected (a symlink cycle, a permission error): raised as a DataError, or skipped, like any bad entry."""
    try:
        if entry.is_dir():
            return "dir"
        if entry.is_file():
            return "file"
        if entry.is_symlink() and not os.path.exists(entry.path):
            os.stat(entry.path)  # a dangling link or a cycle: say which
        return "other"
    except OSError as exc:
        if any(where == entry.path for where, _ in report.skipped):
            return None  # the flat layout scans the root twice: report it once
        _bad(report, on_error, entry.path, f"cannot be read ({exc.strerror or exc}; a symlink cycle or a "
             "broken link?)", "Remove or fix the link")
        return None


def _bad(report: SkipReport, on_error: str, where: str, reason: str, fix: str) -> None:
    """Raise a DataError for ``where`` or, with ``on_error="skip"``, record it in ``report``."""
    if on_error == "raise":
        raise DataError(f"{where}: {reason}. {fix}, or pass on_error='skip' to leave it out.")
    report.add(where, reason)


def _is_dir(entry: os.DirEntry) -> bool:
    """``entry.is_dir()``, False for an entry that cannot be inspected (reported later by the reader)."""
    try:
        return entry.is_dir()
    except OSError:
        return False
