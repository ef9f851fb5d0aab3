"""The one place that defines emotion labels and how every dataset names them.

``EMOTIONS`` is the order of the Kaggle FER2013 ``emotion`` column (ids 0..6).
Every reader in :mod:`fer.data` maps its dataset's own names into this order,
so a label ``3`` means *happy* everywhere in the project.
"""

from __future__ import annotations

#: FER2013 ids 0..6, the project's canonical 7-emotion order.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: FER+ (Barsoum et al., 2016) vote columns, in the order of ``fer2013new.csv``.
FERPLUS_VOTE_COLUMNS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF",
)
#: The 8 FER+ emotions (the vote columns without unknown / not-a-face).
FERPLUS_EMOTIONS: tuple[str, ...] = FERPLUS_VOTE_COLUMNS[:8]

#: Every alias a dataset uses for an emotion, mapped to the canonical name.
#: ``contempt`` and ``pain`` are kept as their own names: they are not among
#: the 7 FER2013 emotions and callers decide whether to drop or map them.
ALIASES: dict[str, str] = {
    # FER2013 / Kaggle folder names
    "angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy",
    "sad": "sad", "surprise": "surprise", "neutral": "neutral",
    # FER+ vote columns
    "anger": "angry", "happiness": "happy", "sadness": "sad",
    # CK+ folder names (CK+48)
    "disgusted": "disgust", "fearful": "fear", "surprised": "surprise",
    "contempt": "contempt",
    # JAFFE codes
    "an": "angry", "di": "disgust", "fe": "fear", "ha": "happy", "sa": "sad", "su": "surprise", "ne": "neutral",
    # extra class used by one of the course sources
    "pain": "pain",
}

#: JAFFE file-name codes in their usual order.
JAFFE_CODES: tuple[str, ...] = ("AN", "DI", "FE", "HA", "SA", "SU", "NE")

#: Kaggle's image-folder release lists class folders alphabetically; Keras'
#: ``flow_from_directory`` would number them in this order. Index ``i`` here
#: is the alphabetical position; use :func:`alphabetical_to_emotions` to map.
ALPHABETICAL: tuple[str, ...] = tuple(sorted(EMOTIONS))


def canonical(name: str) -> str:
    """Return the canonical emotion name for a dataset's label ``name``.

    Args:
        name: a folder name, vote column or code, any case (``"Anger"``,
            ``"sadness"``, ``"HA"``).

    Returns:
        The canonical name (one of :data:`EMOTIONS`, or ``"contempt"`` / ``"pain"``).

    Raises:
        KeyError: when the name is unknown, with the list of known names.
    """
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    raise KeyError(
        f"unknown emotion label {name!r}; known labels are {sorted(set(ALIASES))}. "
        "Pass classes=[...] to the reader to use your own class list."
    )


def alphabetical_to_emotions() -> dict[int, int]:
    """Map alphabetical folder indices (``flow_from_directory`` order) to :data:`EMOTIONS` ids."""
    return {i: EMOTIONS.index(name) for i, name in enumerate(ALPHABETICAL)}
