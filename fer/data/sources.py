"""Turn a ``--data`` argument (a fer2013.csv, an image-folder tree or ``synthetic``) into a Dataset."""

from __future__ import annotations

import os
from pathlib import Path

from fer.data.dataset import Dataset

#: The repository root: relative paths that do not exist from the working directory are tried from here.
REPO = Path(__file__).resolve().parents[2]

#: Faces per class of ``--data synthetic``: 7,000 faces (4,900 for training), enough steps for the
#: dropout-heavy baseline CNN to learn in 3 epochs; generated in a few seconds.
SYNTHETIC_PER_CLASS = 1000


def load_dataset(spec: str | os.PathLike, *, seed: int = 0) -> Dataset:
    """Load the dataset that ``spec`` names.

    Args:
        spec: ``"synthetic"`` (the generated faces of :func:`fer.data.make_synthetic`,
            :data:`SYNTHETIC_PER_CLASS` per class) or ``"synthetic:N"`` (``N`` per class), a Kaggle
            ``fer2013.csv`` / ``.csv.gz`` file, or a folder in the Kaggle layout
            (``train|test[/val]/<emotion>/*.png``) or a flat ``<emotion>/*`` layout; ``"ferplus"`` or
            a FER+ ``fer2013new.csv``: the FER2013 faces with FER+ majority-vote labels (8 classes,
            contempt included), the faces read from the ``fer2013.csv`` found by :func:`find_dataset`;
            ``"fer2013+ferplus"`` or ``"fer2013+ferplus:W"``: FER2013 with its original labels and soft labels
            that blend in the FER+ votes with weight ``W`` (default 0.5, see
            :func:`fer.data.ferplus.with_ferplus_votes`; train on them with ``--soft-labels``);
            ``"fer2013+ckplus"`` / ``"ferplus+ckplus"``: the merged set of notebook 02 (see :func:`load_merged`).
        seed: seed of the synthetic set.

    Raises:
        FileNotFoundError: when ``spec`` is neither ``synthetic`` nor an existing file or folder.
        ValueError: ``synthetic:N`` with an ``N`` that is not a positive integer, or
            ``fer2013+ferplus:W`` with a ``W`` outside ``[0, 1]``.

    Example:
        >>> from fer.data.sources import load_dataset
        >>> ds = load_dataset("synthetic:20")                  # 20 generated faces per class
        >>> ds.splits()
        ['train', 'val', 'test']
        >>> real = load_dataset("../shared/data/fer2013/fer2013.csv.gz")  # doctest: +SKIP
    """
    text = str(spec)
    if text == "synthetic" or text.startswith("synthetic:"):
        from fer.data.synthetic import make_synthetic

        count = str(SYNTHETIC_PER_CLASS) if text == "synthetic" else text.partition(":")[2]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--data {text!r}: write 'synthetic' or 'synthetic:N' with N faces per class "
                             "(a positive integer, e.g. synthetic:200)")
        return make_synthetic(n_per_class=int(count), seed=seed)
    if text == "fer2013+ferplus" or text.startswith("fer2013+ferplus:"):
        return _load_fer2013_with_votes(text)
    if text in MERGED_SPECS:
        return load_merged(text, seed=seed)
    path = resolve_path(spec)  # e.g. FER_DATA=../shared/data/... given at the repository root, read from notebooks/
    if text == "ferplus" or (path.is_file() and _is_ferplus_votes(path)):
        return _load_ferplus(None if text == "ferplus" else path)
    if path.is_dir():
        from fer.data.folders import load_image_folders

        return load_image_folders(path, classes="auto")  # a 'pain/' folder is an 8th class, not an error
    if path.is_file():
        from fer.data.fer2013 import load_fer2013_csv

        return load_fer2013_csv(path)
    raise FileNotFoundError(
        f"--data {spec!r}: no such file or folder. Pass a fer2013.csv(.gz), an image-folder tree, "
        "or 'synthetic'; data/README.md explains how to download FER2013."
    )


#: ``--data`` names of the merged sets: FER2013 (or FER+ labels) + CK+, deduplicated, CK+ split by subject
MERGED_SPECS = ("fer2013+ckplus", "ferplus+ckplus")

#: CK+'s share of faces for validation and test when it is split by subject (notebook 02's choice)
CKPLUS_VAL, CKPLUS_TEST = 0.15, 0.15


def load_merged(spec: str, *, seed: int = 0) -> Dataset:
    """The merged 7-emotion set ``spec`` names (one of :data:`MERGED_SPECS`), as notebook 02 builds it.

    FER2013 keeps its published splits (Training / PublicTest); CK+ is split by subject
    (:data:`CKPLUS_VAL` / :data:`CKPLUS_TEST` of its faces, ``seed``), so no subject is in two splits;
    :func:`fer.data.merge` then converts both to 48x48 gray, drops contempt (FER+ and CK+ have it, FER2013
    does not) and removes exact and near duplicates without touching the evaluation splits. The merge
    report (rows in and out, removed duplicates, label conflicts) is in ``meta["merge"]``; the leakage audit
    of the result (copies across splits, subjects in several splits) in ``meta["audit"]``.

    Raises:
        FileNotFoundError: a dataset the spec needs is not in any data root (naming it and the roots).
    """
    from fer.data.audit import audit
    from fer.data.ckplus import load_ckplus
    from fer.data.fer2013 import load_fer2013_csv
    from fer.data.merge import merge
    from fer.data.splits import split_by_group

    if spec not in MERGED_SPECS:
        raise ValueError(f"--data {spec!r}: merged sets are {list(MERGED_SPECS)}")
    first = spec.split("+")[0]
    ck_root = find_dataset("ckplus")
    if ck_root is None:
        raise FileNotFoundError(f"--data {spec}: CK+ (ckplus/CK+48/<emotion>/*.png) not found in "
                                f"{[str(r) for r in data_roots()]}; see data/README.md")
    if first == "ferplus":
        base = _load_ferplus(None)
    else:
        faces = find_dataset("fer2013")
        if faces is None:
            raise FileNotFoundError(f"--data {spec}: fer2013.csv(.gz) not found in {[str(r) for r in data_roots()]}")
        base = load_fer2013_csv(faces)
    ck = split_by_group(load_ckplus(ck_root), val=CKPLUS_VAL, test=CKPLUS_TEST, seed=seed)
    merged = merge([base, ck], contempt="drop")
    merged.meta.update({"name": spec, "path": spec, "audit": audit(merged)})
    return merged


def resolve_path(path: str | os.PathLike) -> Path:
    """``path`` as given when it exists (or is absolute), else relative to the repository root when it
    exists there (recipes name shipped models; notebooks run in ``notebooks/``), else unchanged."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p
    return REPO / p if (REPO / p).exists() else p


def _is_ferplus_votes(path: Path) -> bool:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            return f.readline().replace(" ", "").lower().startswith("usage,imagename,")
    except OSError:
        return False


def _faces_and_votes(spec: str, votes: Path | None = None) -> tuple[Path, Path]:
    """The ``fer2013.csv`` and FER+ ``fer2013new.csv`` that ``--data spec`` needs (``votes`` if given)."""
    votes = votes or find_dataset("ferplus")
    faces = find_dataset("fer2013")
    if votes is None or faces is None:
        missing = "FER+ fer2013new.csv" if votes is None else "fer2013.csv(.gz)"
        raise FileNotFoundError(
            f"--data {spec}: {missing} not found in {[str(r) for r in data_roots()]}. FER+ labels need both "
            "files; put them where data/README.md says or set FER_DATA_ROOT to the folder holding them.")
    return faces, votes


def _load_ferplus(votes: Path | None) -> Dataset:
    from fer.data.ferplus import load_ferplus

    return load_ferplus(*_faces_and_votes("ferplus", votes), mode="majority")


def _load_fer2013_with_votes(text: str) -> Dataset:
    from fer.data.fer2013 import load_fer2013_csv
    from fer.data.ferplus import with_ferplus_votes

    weight = text.partition(":")[2] or "0.5"
    try:
        w = float(weight)
    except ValueError:
        w = -1.0
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"--data {text!r}: write 'fer2013+ferplus' or 'fer2013+ferplus:W' with W, the weight "
                         "of the FER+ votes, between 0 and 1 (e.g. fer2013+ferplus:0.5)")
    faces, votes = _faces_and_votes(text)
    return with_ferplus_votes(load_fer2013_csv(faces), votes, weight=w)


#: Where each dataset's file or folder sits below a data root (see data/README.md).
DATASET_FILES: dict[str, tuple[str, ...]] = {
    "fer2013": ("fer2013/fer2013.csv", "fer2013/fer2013.csv.gz", "fer2013.csv", "fer2013.csv.gz"),
    "ferplus": ("ferplus/fer2013new.csv", "fer2013new.csv"),
    "ckplus": ("ckplus/CK+48", "CK+48"),
    "fer2013_images": ("fer2013_images",),
}


def data_roots() -> list[Path]:
    """Folders searched for datasets, in order: ``$FER_DATA_ROOT``, the repository's ``data/``, and
    ``../shared/data`` beside the repository (the course machines' shared copy)."""
    roots = [Path(os.environ["FER_DATA_ROOT"])] if os.environ.get("FER_DATA_ROOT") else []
    return roots + [REPO / "data", REPO.parent / "shared" / "data"]


def find_dataset(name: str) -> Path | None:
    """The path of dataset ``name`` (``fer2013``, ``ferplus``, ``ckplus``, ``fer2013_images``) in the
    first data root that has it, or ``None`` when it is nowhere (callers then fall back to ``synthetic``)."""
    if name not in DATASET_FILES:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(DATASET_FILES)}")
    for root in data_roots():
        for rel in DATASET_FILES[name]:
            if (root / rel).exists():
                return root / rel
    return None
