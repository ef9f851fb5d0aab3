"""Reader for FER+ (Barsoum et al., 2016): ten crowd votes per FER2013 face, in ``fer2013new.csv``.

Class naming (used by every reader in the project that has contempt): the 7 FER2013 emotions keep their
ids 0..6 from :data:`fer.labels.EMOTIONS` and ``contempt`` is id 7, so label 3 means *happy* in FER2013,
FER+ and CK+ alike. FER+'s own column names (``happiness``, ``anger`` ...) become the canonical names
(``happy``, ``angry`` ...) and the column order of the CSV does not leak into label ids.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from fer.data.dataset import Dataset
from fer.data.errors import DataError, SkipReport, check_on_error
from fer.data.fer2013 import USAGE_TO_SPLIT, load_fer2013_csv
from fer.labels import EMOTIONS, FERPLUS_EMOTIONS, FERPLUS_VOTE_COLUMNS, canonical

#: FER+ classes in label order: :data:`fer.labels.EMOTIONS` (ids 0..6) + ``contempt`` (id 7).
FERPLUS_CLASSES: tuple[str, ...] = EMOTIONS + (canonical("contempt"),)
#: Column ``j`` of the 8 FER+ emotion votes goes to class ``FERPLUS_COLUMN_TO_CLASS[j]`` of FERPLUS_CLASSES.
FERPLUS_COLUMN_TO_CLASS: tuple[int, ...] = tuple(FERPLUS_CLASSES.index(canonical(c)) for c in FERPLUS_EMOTIONS)
MODES: tuple[str, ...] = ("majority", "probability")


def parse_contempt(contempt: str, classes: tuple[str, ...] = EMOTIONS) -> int | None:
    """``"drop"`` → ``None``; ``"map:<emotion>"`` → that emotion's index in ``classes``."""
    if contempt == "drop":
        return None
    if isinstance(contempt, str) and contempt.startswith("map:"):
        try:
            name = canonical(contempt[4:])
        except KeyError as exc:
            raise ValueError(f"contempt={contempt!r}: {exc.args[0]}") from None
        if name in classes:
            return classes.index(name)
        raise ValueError(f"contempt={contempt!r}: {name!r} is not one of the classes {list(classes)}")
    raise ValueError(f"contempt must be 'drop' or 'map:<emotion>' (e.g. 'map:disgust'), got {contempt!r}")


def load_ferplus(
    fer2013_csv: str | os.PathLike,
    fer2013new_csv: str | os.PathLike,
    mode: str = "majority",
    classes: str = "ferplus",
    on_error: str = "raise",
    *,
    contempt: str = "drop",
) -> Dataset:
    """FER2013 faces with the FER+ crowd labels instead of the original ones.

    ``fer2013new.csv`` (header ``Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,
    contempt,unknown,NF``) is aligned **row by row** with ``fer2013.csv``; the split comes from its
    ``Usage`` column (Training → train, PublicTest → val, PrivateTest → test) and must agree with
    fer2013.csv's.

    Modes:

    * ``"majority"`` (Barsoum et al. 2016): the face's label is the vote column with the most votes;
      faces whose top column is ``unknown`` or ``NF`` (not a face), or whose top is a tie, are dropped.
      (The FER+ reference code additionally needs more than half of the votes; this reader keeps the
      plurality winner, as described in the paper's text.)
    * ``"probability"``: ``soft_labels`` are the 8 emotion votes normalised to sum 1 (``unknown`` and
      ``NF`` votes left out); faces without any emotion vote are dropped. ``labels`` is the argmax
      (first column in class order on ties).

    Args:
        fer2013_csv: the Kaggle ``fer2013.csv`` (images), read with :func:`fer.data.load_fer2013_csv`.
        fer2013new_csv: FER+'s ``fer2013new.csv`` (votes).
        mode: ``"majority"`` or ``"probability"``.
        classes: ``"ferplus"`` → 8 classes :data:`FERPLUS_CLASSES` (7 emotions + contempt, ids 0..7);
            ``"fer2013"`` → the 7 :data:`~fer.labels.EMOTIONS`, contempt handled by ``contempt``.
        on_error: ``"raise"`` stops at the first bad row (naming file and row); ``"skip"`` drops it and warns.
        contempt: with ``classes="fer2013"``: ``"drop"`` leaves out faces labelled contempt (majority) or
            contempt votes (probability); ``"map:<emotion>"`` (e.g. ``"map:disgust"``) counts them as that
            emotion. Majority winners are decided on the original 8 emotions first, so both class sets keep
            the same faces apart from the dropped contempt faces.

    Returns:
        A Dataset with ``source="ferplus"``, ``origin`` = the row index in both CSV files, ``soft_labels``
        (``float32``, the normalised emotion votes, also in majority mode). ``meta["dropped"]`` counts
        dropped faces by reason; ``meta["image_names"]`` lists FER+'s image name per kept row.

    Raises:
        DataError: wrong header, non-integer votes, row counts or Usage values that disagree between the files.
    """
    check_on_error(on_error)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if classes not in ("ferplus", "fer2013"):
        raise ValueError(f"classes must be 'ferplus' (8 classes) or 'fer2013' (7 classes), got {classes!r}")
    target = parse_contempt(contempt) if classes == "fer2013" else None
    fer2013_csv, fer2013new_csv = Path(fer2013_csv), Path(fer2013new_csv)
    votes_df = _read_votes(fer2013new_csv)
    faces = load_fer2013_csv(fer2013_csv, on_error=on_error)
    n_rows = faces.meta["rows"]
    if len(votes_df) != n_rows:
        raise DataError(
            f"{fer2013new_csv} has {len(votes_df)} rows but {fer2013_csv} has {n_rows}; FER+ labels are aligned "
            "row by row with fer2013.csv, so both files must come from the same release (a fer2013.csv without "
            "PrivateTest rows needs a fer2013new.csv cut to the same rows)."
        )
    report = SkipReport(str(fer2013new_csv))
    bad = np.zeros(n_rows, dtype=bool)

    def reject(mask: np.ndarray, reason) -> None:
        for i in np.flatnonzero(mask & ~bad):
            where = f"row {i} (line {i + 2})"
            if on_error == "raise":
                raise DataError(f"{fer2013new_csv}: {where} {reason(i)}. Fix the row or pass on_error='skip'.")
            report.add(where, reason(i))
        bad[mask] = True

    raw = votes_df[list(FERPLUS_VOTE_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    reject(~np.isfinite(raw).all(axis=1) | (np.nan_to_num(raw) < 0).any(axis=1)
           | (np.nan_to_num(raw) % 1 != 0).any(axis=1),
           lambda i: f"has vote counts that are not non-negative integers: {votes_df.iloc[i].tolist()[2:]}")
    usage = votes_df["Usage"].str.strip()
    reject(~usage.isin(list(USAGE_TO_SPLIT)).to_numpy(),
           lambda i: f"Usage {usage.iloc[i]!r} is not one of {list(USAGE_TO_SPLIT)}")
    # faces rows that load_fer2013_csv skipped (on_error="skip") are absent here too
    has_face = np.zeros(n_rows, dtype=bool)
    has_face[faces.origin] = True
    fer_split = np.full(n_rows, "", dtype=object)
    fer_split[faces.origin] = faces.split
    plus_split = usage.map(USAGE_TO_SPLIT).fillna("").to_numpy(dtype=object)
    reject(has_face & ~bad & (plus_split != fer_split),
           lambda i: f"has Usage {usage.iloc[i]!r} but row {i} of {fer2013_csv} is in split {fer_split[i]!r}; "
                     "the two files are not aligned")
    report.warn()
    keep_rows = has_face & ~bad

    votes = np.nan_to_num(raw)
    emotion_votes = votes[:, :len(FERPLUS_EMOTIONS)]
    dropped: dict[str, int] = {"bad_row": int(bad.sum()), "no_face_row": int((~has_face).sum())}
    # emotion votes reordered into FERPLUS_CLASSES order
    soft8 = np.zeros((n_rows, len(FERPLUS_CLASSES)), dtype=np.float64)
    soft8[:, list(FERPLUS_COLUMN_TO_CLASS)] = emotion_votes
    if mode == "majority":
        top = votes.max(axis=1)
        n_top = (votes == top[:, None]).sum(axis=1)
        winner = votes.argmax(axis=1)
        not_emotion = winner >= len(FERPLUS_EMOTIONS)  # unknown or NF on top
        tie = (n_top > 1) & ~not_emotion
        dropped["unknown_or_nf_top"] = int((keep_rows & not_emotion).sum())
        dropped["tie"] = int((keep_rows & tie).sum())
        keep_rows &= ~not_emotion & ~tie & (top > 0)
        labels8 = np.array(FERPLUS_COLUMN_TO_CLASS)[np.minimum(winner, len(FERPLUS_EMOTIONS) - 1)]
    else:
        no_votes = emotion_votes.sum(axis=1) == 0
        dropped["no_emotion_votes"] = int((keep_rows & no_votes).sum())
        keep_rows &= ~no_votes
        labels8 = soft8.argmax(axis=1)

    contempt_id = FERPLUS_CLASSES.index("contempt")
    out_classes = FERPLUS_CLASSES
    labels, soft = labels8, soft8
    if classes == "fer2013":
        out_classes = EMOTIONS
        soft = soft8[:, :len(EMOTIONS)].copy()
        if target is not None:
            soft[:, target] += soft8[:, contempt_id]
        if mode == "majority":
            is_contempt = labels8 == contempt_id
            if target is None:
                dropped["contempt"] = int((keep_rows & is_contempt).sum())
                keep_rows &= ~is_contempt
            labels = np.where(is_contempt, target if target is not None else 0, labels8)
        else:
            no_votes = soft.sum(axis=1) == 0
            dropped["only_contempt_votes"] = int((keep_rows & no_votes).sum())
            keep_rows &= ~no_votes
            labels = soft.argmax(axis=1)
    total = soft.sum(axis=1, keepdims=True)
    soft = (soft / np.where(total > 0, total, 1)).astype(np.float32)

    # positions of kept rows inside `faces` (its origin is the row index)
    pos = np.full(n_rows, -1, dtype=np.int64)
    pos[faces.origin] = np.arange(len(faces))
    rows = np.flatnonzero(keep_rows)
    names = votes_df["Image name"].to_numpy(dtype=object)
    return Dataset(
        images=faces.images[pos[rows]],
        labels=labels[rows].astype(np.int64),
        split=plus_split[rows].astype(str),
        source=np.full(len(rows), "ferplus"),
        origin=rows,
        classes=out_classes,
        soft_labels=soft[rows],
        meta={"name": "ferplus", "path": str(fer2013new_csv), "images_path": str(fer2013_csv), "mode": mode,
              "contempt": contempt if classes == "fer2013" else "kept", "rows": n_rows, "dropped": dropped,
              "skipped": list(faces.meta["skipped"]) + report.skipped, "image_names": names[rows].tolist()},
    )


def _read_votes(path: Path) -> pd.DataFrame:
    """Read ``fer2013new.csv`` as strings and check its header."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file. Get fer2013new.csv from github.com/microsoft/FERPlus.")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: the file is empty. Expected FER+'s fer2013new.csv.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc}). Expected FER+'s fer2013new.csv.") from exc
    df.columns = [c.strip() for c in df.columns]
    expected = ["Usage", "Image name", *FERPLUS_VOTE_COLUMNS]
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise DataError(f"{path}: header {list(df.columns)} lacks column(s) {missing}; expected the FER+ header "
                        f"{','.join(expected)}.")
    return df


def with_ferplus_votes(ds: Dataset, fer2013new_csv: str | os.PathLike, weight: float = 0.5) -> Dataset:
    """FER2013 faces with their original labels, plus soft labels that blend in the FER+ crowd votes.

    ``soft_labels = (1 - weight) · one_hot(original label) + weight · votes``, where ``votes`` is the face's
    FER+ vote distribution over the 7 emotions (contempt, unknown and not-a-face votes left out). Faces
    without any such vote keep their one-hot label. Train on it with ``TrainConfig(soft_labels=True)``: the
    crowd's disagreement becomes extra supervision while the labels (and so every evaluation) stay FER2013's.

    Args:
        ds: FER2013 as read by :func:`fer.data.load_fer2013_csv` (``origin`` = row index in ``fer2013.csv``).
        fer2013new_csv: FER+'s ``fer2013new.csv`` for the same ``fer2013.csv`` (row-aligned).
        weight: the share of the votes in the blend, in ``[0, 1]``.

    Returns:
        A copy of ``ds`` with ``soft_labels`` set and ``meta["ferplus_votes"]`` recording the file, the weight
        and how many faces got votes.

    Raises:
        ValueError: ``weight`` outside ``[0, 1]``, or ``ds`` not a 7-class FER2013 dataset.
        DataError: the votes file does not fit ``ds``'s ``fer2013.csv`` (see :func:`load_ferplus`).
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight={weight}: the share of the FER+ votes must be between 0 and 1")
    if tuple(ds.classes) != EMOTIONS:
        raise ValueError(f"with_ferplus_votes needs FER2013's 7 classes {EMOTIONS}, got {tuple(ds.classes)}")
    images_path = ds.meta.get("path")
    if not images_path:
        raise ValueError("with_ferplus_votes needs the dataset read by load_fer2013_csv (meta['path'] names its file)")
    votes = load_ferplus(images_path, fer2013new_csv, mode="probability", classes="fer2013", contempt="drop")
    rows = votes.meta["rows"]  # both index the rows of the same fer2013.csv
    distribution = np.zeros((rows, len(EMOTIONS)), dtype=np.float32)
    has_votes = np.zeros(rows, dtype=bool)
    distribution[votes.origin] = votes.soft_labels
    has_votes[votes.origin] = True
    one_hot = np.eye(len(EMOTIONS), dtype=np.float32)[ds.labels]
    voted = has_votes[ds.origin]
    soft = one_hot.copy()
    soft[voted] = (1.0 - weight) * one_hot[voted] + weight * distribution[ds.origin[voted]]
    meta = {**ds.meta, "ferplus_votes": {"path": str(fer2013new_csv), "weight": weight,
                                         "faces_with_votes": int(voted.sum())}}
    return dataclasses.replace(ds, soft_labels=soft, meta=meta)
