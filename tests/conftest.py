"""Shared test fixtures. Real-data tests use ``shared_data`` and skip when ../shared/data is absent."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FER_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder (../shared/data); the test is skipped when it does not exist."""
    if not (SHARED_DATA / "fer2013" / "fer2013.csv.gz").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def fer2013_real(shared_data):
    """The real FER2013 (Training + PublicTest) as a Dataset, loaded once per session."""
    from fer.data import load_fer2013_csv

    return load_fer2013_csv(shared_data / "fer2013" / "fer2013.csv.gz")
