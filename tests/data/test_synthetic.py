"""Synthetic faces: deterministic, stratified splits, readable in every real format, and learnable by a tiny CNN."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fer.data import load_ckplus, load_fer2013_csv, load_ferplus, load_image_folders, make_synthetic, write_synthetic
from fer.labels import EMOTIONS


def test_deterministic_given_seed():
    a, b, c = make_synthetic(4, size=32, seed=7), make_synthetic(4, size=32, seed=7), make_synthetic(4, size=32, seed=8)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.split, b.split)
    assert not np.array_equal(a.images, c.images)


def test_shape_classes_and_split_fractions():
    ds = make_synthetic(20, size=40, seed=0, splits=(0.6, 0.2, 0.2))
    assert ds.image_shape == (40, 40, 1) and ds.images.dtype == np.uint8 and ds.classes == EMOTIONS
    assert ds.counts() == {c: 20 for c in EMOTIONS}
    assert {s: int((ds.split == s).sum()) for s in ("train", "val", "test")} == {"train": 84, "val": 28, "test": 28}
    for split in ("train", "val", "test"):  # stratified: every class in every split
        assert len(set(ds.labels[ds.split == split])) == 7
    assert ds.images.std() > 20  # not blank


def test_small_dataset_still_has_all_splits():
    ds = make_synthetic(3, size=24)
    assert ds.splits() == ["train", "val", "test"]


def test_custom_classes_and_bad_arguments():
    ds = make_synthetic(2, size=24, classes=["happy", "contempt"])
    assert ds.classes == ("happy", "contempt") and len(ds) == 4
    with pytest.raises(ValueError, match="no synthetic expression"):
        make_synthetic(2, classes=["pain"])
    with pytest.raises(ValueError, match="splits"):
        make_synthetic(2, splits=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="n_per_class"):
        make_synthetic(0)


def test_every_pair_of_expressions_differs_by_more_than_the_jitter():
    from fer.data.synthetic import EXPRESSIONS, JITTER

    names = list(EXPRESSIONS)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            gap = max(abs(EXPRESSIONS[a][k] - EXPRESSIONS[b][k]) / JITTER[k] for k in JITTER)
            assert gap >= 1.5, (a, b)


@pytest.mark.parametrize("fmt", ["csv", "folders", "ferplus", "ckplus"])
def test_write_synthetic_formats_are_read_by_the_real_readers(tmp_path, fmt):
    out = write_synthetic(tmp_path, fmt, n_per_class=3, size=24, seed=4)
    ref = make_synthetic(3, size=24, seed=4)
    if fmt == "csv":
        ds = load_fer2013_csv(out)
        np.testing.assert_array_equal(ds.images, ref.images)
    elif fmt == "folders":
        ds = load_image_folders(out)
        assert sorted(ds.labels.tolist()) == sorted(ref.labels.tolist())
    elif fmt == "ferplus":
        ds = load_ferplus(*out)
        assert 0 < len(ds) < len(ref)  # not-a-face and tied rows dropped
    else:
        ds = load_ckplus(out)
        assert len(ds) == 7 * 3 and ds.groups is not None
    assert len(ds) > 0


def test_tiny_cnn_learns_synthetic_faces_well_above_chance():
    import keras

    L = keras.layers
    ds = make_synthetic(120, size=32, seed=0)
    train, held_out = ds.subset("train"), ds.select(ds.split != "train")
    keras.utils.set_random_seed(0)

    def block(filters):
        return [L.Conv2D(filters, 3, padding="same", use_bias=False), L.BatchNormalization(momentum=0.8),
                L.ReLU(), L.MaxPooling2D()]

    model = keras.Sequential([keras.Input((32, 32, 1)), L.Rescaling(1 / 127.5, -1), *block(16), *block(32),
                              *block(64), L.Flatten(), L.Dropout(0.3), L.Dense(7, activation="softmax")])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(train.images.astype("float32"), train.labels, epochs=10, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(held_out.images.astype("float32"), held_out.labels, verbose=0)
    assert accuracy >= 0.5, f"held-out accuracy {accuracy:.2f} after {seconds:.1f}s"  # chance is 1/7
    assert history.history["accuracy"][0] < 0.8  # not trivially solved in the first epoch
