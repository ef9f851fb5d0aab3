"""fer.data.sources: what a ``--data`` argument means."""

from __future__ import annotations

import pytest

from fer.data import write_synthetic
from fer.data.sources import find_dataset, load_dataset


def test_synthetic_with_a_size():
    ds = load_dataset("synthetic:5")
    assert len(ds) == 5 * 7 and ds.meta["n_per_class"] == 5


@pytest.mark.parametrize("spec", ["synthetic:", "synthetic:0", "synthetic:many"])
def test_bad_synthetic_size_says_how_to_write_it(spec):
    with pytest.raises(ValueError, match="synthetic:N"):
        load_dataset(spec)


def test_ferplus_votes_file_is_recognised_by_its_header(tmp_path, monkeypatch):
    faces, votes = write_synthetic(tmp_path, "ferplus", n_per_class=6, size=24)
    monkeypatch.setenv("FER_DATA_ROOT", str(tmp_path))  # where the faces' fer2013.csv is looked up
    assert find_dataset("fer2013") == faces
    ds = load_dataset(votes)
    assert ds.meta["name"] == "ferplus" and len(ds.classes) == 8 and ds.classes[-1] == "contempt"
    assert len(ds) < 6 * 8  # not-a-face and tied rows are dropped by the majority vote
    plain = load_dataset(faces)  # the pixels file itself stays plain FER2013
    assert len(plain.classes) == 7


def test_ferplus_without_the_faces_file_says_what_is_missing(tmp_path, monkeypatch):
    _, votes = write_synthetic(tmp_path, "ferplus", n_per_class=2, size=24)
    (tmp_path / "fer2013.csv").unlink()
    monkeypatch.setattr("fer.data.sources.data_roots", lambda: [tmp_path])
    with pytest.raises(FileNotFoundError, match=r"fer2013\.csv.*FER_DATA_ROOT"):
        load_dataset(votes)


def test_relative_path_from_the_repository_root_works_from_another_folder(tmp_path, monkeypatch):
    """Notebooks run in notebooks/, but FER_DATA is usually written relative to the repository root."""
    repo = tmp_path / "repo"
    csv = write_synthetic(repo / "data", "csv", n_per_class=2, size=24)
    monkeypatch.setattr("fer.data.sources.REPO", repo)
    monkeypatch.chdir(tmp_path)  # the working directory, where data/fer2013.csv does not exist
    ds = load_dataset(csv.relative_to(repo))
    assert len(ds) == 2 * 7
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        load_dataset("data/nowhere.csv")


def test_fer2013_with_ferplus_votes(tmp_path, monkeypatch):
    faces, votes = write_synthetic(tmp_path, "ferplus", n_per_class=6, size=24)
    monkeypatch.setattr("fer.data.sources.data_roots", lambda: [tmp_path])
    plain = load_dataset(faces)
    ds = load_dataset("fer2013+ferplus:0.3")
    assert ds.classes == plain.classes and (ds.labels == plain.labels).all() and len(ds) == len(plain)
    assert ds.meta["ferplus_votes"]["weight"] == 0.3
    assert ds.soft_labels.max(axis=1).min() >= 0.7 - 1e-6  # at most 0.3 moved away from the original label
    assert load_dataset("fer2013+ferplus").meta["ferplus_votes"]["weight"] == 0.5
    for bad in ("fer2013+ferplus:2", "fer2013+ferplus:half"):
        with pytest.raises(ValueError, match="between 0 and 1"):
            load_dataset(bad)
    votes.unlink()
    with pytest.raises(FileNotFoundError, match="FER\\+ fer2013new.csv not found"):
        load_dataset("fer2013+ferplus")


def test_merged_spec_is_notebook_02s_set_with_ckplus_split_by_subject(shared_data):
    import numpy as np

    from fer.data.sources import load_dataset
    from fer.labels import EMOTIONS

    ds = load_dataset("fer2013+ckplus")
    assert ds.classes == EMOTIONS and set(np.unique(ds.source)) == {"fer2013", "ckplus"}
    ck = ds.source == "ckplus"
    for subject in np.unique(ds.groups[ck]):
        assert len(set(ds.split[ck & (ds.groups == subject)])) == 1  # one subject, one split
    assert {"train", "val", "test"} <= set(ds.splits())
    assert ds.meta["audit"]["overlap"]["train-val"]["exact"] == 0  # the merge removed train copies of val faces
    report = ds.meta["merge"]
    assert report["rows_out"] == len(ds) < report["rows_in"] and report["removed_by_reason"]
