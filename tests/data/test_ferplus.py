"""FER+ votes aligned with fer2013.csv: majority and probability labels, class sets, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fer.data import DataError, load_ferplus, write_synthetic
from fer.data.ferplus import FERPLUS_CLASSES
from fer.labels import EMOTIONS, FERPLUS_EMOTIONS, FERPLUS_VOTE_COLUMNS, canonical


@pytest.fixture
def files(tmp_path):
    return write_synthetic(tmp_path, "ferplus", n_per_class=6, size=16, seed=5)


def expected_majority(votes: pd.DataFrame) -> dict[int, str]:
    """Independent reference: row -> canonical label, for rows a plurality of one emotion wins."""
    out = {}
    for i, row in votes[list(FERPLUS_VOTE_COLUMNS)].iterrows():
        top = row.max()
        winners = row.index[row == top].tolist()
        if len(winners) == 1 and winners[0] in FERPLUS_EMOTIONS:
            out[i] = canonical(winners[0])
    return out


def test_classes_keep_fer2013_ids_and_add_contempt():
    assert FERPLUS_CLASSES[:7] == EMOTIONS and FERPLUS_CLASSES[7] == "contempt"


def test_majority_labels_match_an_independent_computation(files):
    faces, votes_path = files
    votes = pd.read_csv(votes_path)
    ds = load_ferplus(faces, votes_path)
    expected = expected_majority(votes)
    assert ds.origin.tolist() == sorted(expected)
    assert [ds.classes[i] for i in ds.labels] == [expected[i] for i in ds.origin]
    nf = votes["NF"] == 10
    tie = (votes[list(FERPLUS_EMOTIONS)] == 5).sum(axis=1) == 2
    assert nf.any() and tie.any()  # the synthetic file has both cases
    assert ds.meta["dropped"]["unknown_or_nf_top"] == nf.sum() and ds.meta["dropped"]["tie"] == tie.sum()
    usage = votes["Usage"].map({"Training": "train", "PublicTest": "val", "PrivateTest": "test"})
    assert ds.split.tolist() == usage[ds.origin].tolist()
    assert ds.meta["image_names"][0] == votes["Image name"][ds.origin[0]]


def test_images_come_from_the_same_rows_of_fer2013(files):
    faces, votes_path = files
    from fer.data import load_fer2013_csv

    fer = load_fer2013_csv(faces)
    ds = load_ferplus(faces, votes_path)
    np.testing.assert_array_equal(ds.images, fer.images[ds.origin])


def test_probability_mode_soft_labels(files):
    faces, votes_path = files
    votes = pd.read_csv(votes_path)
    ds = load_ferplus(faces, votes_path, mode="probability")
    emotion_votes = votes[list(FERPLUS_EMOTIONS)].to_numpy(float)
    keep = emotion_votes.sum(axis=1) > 0
    assert ds.origin.tolist() == np.flatnonzero(keep).tolist()
    assert ds.soft_labels.shape == (len(ds), 8) and ds.soft_labels.dtype == np.float32
    np.testing.assert_allclose(ds.soft_labels.sum(axis=1), 1, rtol=1e-6)
    # column "happiness" lands in class "happy" (id 3), whatever its position in the CSV
    happy_col = emotion_votes[keep][:, FERPLUS_EMOTIONS.index("happiness")]
    np.testing.assert_allclose(ds.soft_labels[:, EMOTIONS.index("happy")],
                               happy_col / emotion_votes[keep].sum(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(ds.labels, ds.soft_labels.argmax(axis=1))


def test_fer2013_classes_drop_or_map_contempt(tmp_path):
    faces, votes_path = write_synthetic(tmp_path, "ferplus", n_per_class=4, size=16, seed=6)
    votes = pd.read_csv(votes_path)
    votes.loc[0, list(FERPLUS_VOTE_COLUMNS)] = [0, 0, 0, 0, 0, 0, 0, 9, 1, 0]  # a contempt face
    votes.to_csv(votes_path, index=False)
    full = load_ferplus(faces, votes_path)
    assert full.classes == FERPLUS_CLASSES and full.labels[full.origin == 0] == [7]
    dropped = load_ferplus(faces, votes_path, classes="fer2013")
    assert dropped.classes == EMOTIONS and 0 not in dropped.origin and dropped.meta["dropped"]["contempt"] == 1
    assert len(dropped) == len(full) - 1
    mapped = load_ferplus(faces, votes_path, classes="fer2013", contempt="map:disgust")
    assert len(mapped) == len(full) and mapped.labels[mapped.origin == 0] == [EMOTIONS.index("disgust")]
    soft = load_ferplus(faces, votes_path, mode="probability", classes="fer2013", contempt="map:disgust")
    assert soft.soft_labels.shape[1] == 7
    assert soft.soft_labels[soft.origin == 0, EMOTIONS.index("disgust")] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="contempt must be"):
        load_ferplus(faces, votes_path, classes="fer2013", contempt="keep")
    with pytest.raises(ValueError, match="'pain' is not one of"):
        load_ferplus(faces, votes_path, classes="fer2013", contempt="map:pain")


def test_mismatched_row_count_names_both_files(files):
    faces, votes_path = files
    votes = pd.read_csv(votes_path)
    votes.iloc[:-3].to_csv(votes_path, index=False)
    with pytest.raises(DataError, match=rf"{votes_path.name} has {len(votes) - 3} rows but .*{faces.name} has "
                                        rf"{len(votes)}"):
        load_ferplus(faces, votes_path)


def test_wrong_header(files):
    faces, votes_path = files
    votes = pd.read_csv(votes_path).rename(columns={"NF": "not_face"})
    votes.to_csv(votes_path, index=False)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['NF'\]"):
        load_ferplus(faces, votes_path)


def test_non_numeric_vote_raises_or_is_skipped(files):
    faces, votes_path = files
    votes = pd.read_csv(votes_path, dtype=str)
    votes.loc[2, "anger"] = "three"
    votes.to_csv(votes_path, index=False)
    with pytest.raises(DataError, match=r"row 2 \(line 4\) has vote counts that are not non-negative integers"):
        load_ferplus(faces, votes_path)
    with pytest.warns(UserWarning, match="skipped 1"):
        ds = load_ferplus(faces, votes_path, mode="probability", on_error="skip")
    assert 2 not in ds.origin and ds.meta["dropped"]["bad_row"] == 1


def test_usage_disagreeing_with_fer2013_is_misalignment(files):
    faces, votes_path = files
    votes = pd.read_csv(votes_path)
    i = int(np.flatnonzero(votes["Usage"] == "Training")[0])
    votes.loc[i, "Usage"] = "PublicTest"
    votes.to_csv(votes_path, index=False)
    with pytest.raises(DataError, match="not aligned"):
        load_ferplus(faces, votes_path)


def test_bad_mode_and_classes(files):
    faces, votes_path = files
    with pytest.raises(ValueError, match="mode"):
        load_ferplus(faces, votes_path, mode="soft")
    with pytest.raises(ValueError, match="classes"):
        load_ferplus(faces, votes_path, classes="ckplus")


# ---------------------------------------------------------------- real data


def test_real_ferplus_rows_align_with_fer2013(shared_data):
    votes = pd.read_csv(shared_data / "ferplus" / "fer2013new.csv")
    assert len(votes) == 32298  # Training + PublicTest, like the shared fer2013.csv
    assert votes["Usage"].value_counts().to_dict() == {"Training": 28709, "PublicTest": 3589}


def test_real_ferplus_majority_counts(shared_data):
    votes_path = shared_data / "ferplus" / "fer2013new.csv"
    ds = load_ferplus(shared_data / "fer2013" / "fer2013.csv.gz", votes_path)
    expected = expected_majority(pd.read_csv(votes_path))
    assert len(ds) == len(expected)
    counts = pd.Series(list(expected.values())).value_counts().to_dict()
    assert ds.counts() == {c: counts.get(c, 0) for c in FERPLUS_CLASSES}
    assert ds.counts()["neutral"] > ds.counts()["happy"]  # FER+ relabels many faces as neutral
    assert set(ds.splits()) == {"train", "val"}


def test_with_ferplus_votes_blends_the_crowd_into_the_original_labels(files):
    from fer.data import load_fer2013_csv
    from fer.data.ferplus import with_ferplus_votes

    faces, votes_path = files
    fer = load_fer2013_csv(faces)
    ds = with_ferplus_votes(fer, votes_path, weight=0.25)
    np.testing.assert_array_equal(ds.labels, fer.labels)  # evaluation still uses FER2013's labels
    assert ds.soft_labels.shape == (len(fer), 7) and fer.soft_labels is None
    np.testing.assert_allclose(ds.soft_labels.sum(axis=1), 1, rtol=1e-6)
    votes = pd.read_csv(votes_path)
    dist = np.zeros((len(votes), 7))  # the votes of the 7 emotions, in EMOTIONS order, contempt left out
    for column in FERPLUS_EMOTIONS:
        if canonical(column) != "contempt":
            dist[:, EMOTIONS.index(canonical(column))] = votes[column].to_numpy(float)
    total = dist.sum(axis=1)
    for i, row in enumerate(fer.origin):
        expected = np.eye(7)[fer.labels[i]]
        if total[row] > 0:
            expected = 0.75 * expected + 0.25 * dist[row] / total[row]
        np.testing.assert_allclose(ds.soft_labels[i], expected, rtol=1e-5, atol=1e-6)
    assert 0 < ds.meta["ferplus_votes"]["faces_with_votes"] < len(fer)  # NF-only rows keep the one-hot label
    with pytest.raises(ValueError, match="between 0 and 1"):
        with_ferplus_votes(fer, votes_path, weight=1.5)
    with pytest.raises(ValueError, match="7 classes"):
        with_ferplus_votes(load_ferplus(faces, votes_path), votes_path)
