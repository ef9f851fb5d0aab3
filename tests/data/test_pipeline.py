"""The training pipeline: class weights, FERSequence determinism, augmentation and mixup."""

from __future__ import annotations

import numpy as np
import pytest

from fer.data import Dataset
from fer.data.pipeline import Augment, FERSequence, augment_batch, class_weights, mixup


def make_ds(n: int = 40, size: int = 8, splits=("train", "val")) -> Dataset:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size, 1), dtype=np.uint8)
    labels = np.arange(n) % 7
    split = np.array([splits[i % len(splits)] for i in range(n)])
    return Dataset(images, labels, split, np.full(n, "toy"), np.arange(n))


def test_class_weights_are_balanced():
    labels = np.array([0] * 6 + [1] * 3 + [2] * 1)
    w = class_weights(labels, num_classes=4)
    assert w[0] == pytest.approx(10 / (4 * 6)) and w[2] == pytest.approx(10 / 4)
    assert w[3] == 0.0  # absent class
    # every present class contributes the same total weight n / k
    for c, count in ((0, 6), (1, 3), (2, 1)):
        assert w[c] * count == pytest.approx(10 / 4)


def test_class_weights_on_fer2013_match_the_known_values(fer2013_real):
    w = class_weights(fer2013_real.subset("train").labels, 7)
    assert w[1] == pytest.approx(9.4, abs=0.05)  # disgust
    assert w[3] == pytest.approx(0.57, abs=0.01)  # happy


def test_sequence_without_augmentation_returns_the_stored_pixels_in_order():
    ds = make_ds()
    seq = FERSequence(ds, "val", batch_size=8, shuffle=False)
    x, y = seq[1]
    val = ds.subset("val")
    np.testing.assert_array_equal(x, val.images[8:16].astype(np.float32))
    np.testing.assert_array_equal(y.argmax(1), val.labels[8:16])
    assert x.dtype == np.float32 and len(seq) == 3


def test_sequence_is_deterministic_per_seed_epoch_and_batch():
    ds = make_ds()
    a = FERSequence(ds, "train", batch_size=8, augment=True, seed=3)
    b = FERSequence(ds, "train", batch_size=8, augment=True, seed=3)
    np.testing.assert_array_equal(a[2][0], b[2][0])
    np.testing.assert_array_equal(a[2][0], a[2][0])  # same batch twice, e.g. from two workers
    first = a[0][1].copy()
    a.on_epoch_end()
    assert not np.array_equal(a[0][1], first) or not np.array_equal(a[0][0], b[0][0])
    c = FERSequence(ds, "train", batch_size=8, augment=True, seed=4)
    assert not np.array_equal(c[0][0], b[0][0])


def test_sequence_resizes_and_repeats_channels_for_the_model():
    pytest.importorskip("fer.preprocess")
    ds = make_ds()
    x, _ = FERSequence(ds, "train", input_shape=(16, 16, 3), batch_size=4)[0]
    assert x.shape == (4, 16, 16, 3)
    np.testing.assert_allclose(x[..., 0], x[..., 2])


def test_missing_split_names_the_present_ones():
    with pytest.raises(ValueError, match=r"'test'.*\['train', 'val'\]"):
        FERSequence(make_ds(), "test")


def test_class_weight_becomes_sample_weight():
    ds = make_ds()
    seq = FERSequence(ds, "train", batch_size=10, shuffle=False, class_weight={i: float(i) for i in range(7)})
    x, y, sw = seq[0]
    np.testing.assert_array_equal(sw, y.argmax(1).astype(np.float32))


def test_identity_augmentation_changes_nothing_and_flip_only_mirrors():
    images = np.random.default_rng(1).integers(0, 256, (16, 12, 12, 1), dtype=np.uint8)
    rng = np.random.default_rng(0)
    none = Augment(rotation=0, shift=0, zoom=0, flip=False, brightness=0)
    np.testing.assert_allclose(augment_batch(images, rng, none), images.astype(np.float32))
    flipped = augment_batch(images, rng, Augment(rotation=0, shift=0, zoom=0, flip=True, brightness=0))
    mirrored = [np.allclose(f, i[:, ::-1], atol=1e-3) and not np.allclose(f, i) for f, i in zip(flipped, images)]
    same = [np.allclose(f, i, atol=1e-3) for f, i in zip(flipped, images)]
    assert all(m or s for m, s in zip(mirrored, same)) and any(mirrored) and any(same)
    # never upside down: a flipped face is never the vertical mirror
    assert not any(np.allclose(f, i[::-1], atol=1e-3) for f, i in zip(flipped, images))


def test_augmentation_stays_in_pixel_range_and_changes_images():
    images = np.random.default_rng(2).integers(0, 256, (32, 48, 48, 1), dtype=np.uint8)
    out = augment_batch(images, np.random.default_rng(0), Augment(contrast=0.3, erase=0.5))
    assert out.min() >= 0 and out.max() <= 255
    assert np.mean([not np.allclose(o, i) for o, i in zip(out, images)]) > 0.9


def test_mixup_makes_convex_combinations_with_labels_summing_to_one():
    rng = np.random.default_rng(0)
    x = rng.random((64, 4, 4, 1)).astype(np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 64)]
    xm, ym = mixup(x, y, np.random.default_rng(5), alpha=0.2)
    np.testing.assert_allclose(ym.sum(1), 1.0, rtol=1e-6)
    # recover each lambda and partner from the same generator and check the mix exactly
    g = np.random.default_rng(5)
    lam = g.beta(0.2, 0.2, size=64).astype(np.float32)
    perm = g.permutation(64)
    np.testing.assert_allclose(xm, lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[perm], rtol=1e-6)
    assert ((xm >= np.minimum(x, x[perm]) - 1e-6) & (xm <= np.maximum(x, x[perm]) + 1e-6)).all()


def test_soft_labels_require_soft_labels():
    with pytest.raises(ValueError, match="soft_labels"):
        FERSequence(make_ds(), "train", labels="soft")


# ---------------------------------------------------------------------------------------------
# tf.data path (tf_dataset): the same batches as FERSequence, augmentation in TensorFlow ops
# ---------------------------------------------------------------------------------------------

def _numpy_batches(dataset) -> list[tuple[np.ndarray, ...]]:
    return [tuple(np.asarray(t) for t in batch) for batch in dataset]


@pytest.mark.parametrize("shape", [None, (16, 16, 3), (6, 6, 1)])
def test_tf_dataset_gives_fersequence_pixels_labels_and_order_for_two_epochs(shape):
    from fer.data.pipeline import tf_dataset

    ds = make_ds(n=45)
    cw = {i: 1.0 + i for i in range(7)}
    seq = FERSequence(ds, "train", shape, batch_size=5, class_weight=cw, seed=7)
    tfd = tf_dataset(ds, "train", shape, batch_size=5, class_weight=cw, seed=7)
    assert int(tfd.cardinality()) == len(seq) == 5  # 23 train faces: the last batch is short
    for _epoch in range(2):  # each new iterator is the next epoch, reshuffled as FERSequence does
        got = _numpy_batches(tfd)
        want = [seq[i] for i in range(len(seq))]
        assert len(got) == len(want)
        for (x, y, sw), (wx, wy, wsw) in zip(got, want):
            assert x.dtype == np.float32 and x.shape == wx.shape
            np.testing.assert_array_equal(x, wx)
            np.testing.assert_array_equal(y, wy)
            np.testing.assert_array_equal(sw, wsw)
        seq.on_epoch_end()
    assert not np.array_equal(want[0][1], FERSequence(ds, "train", shape, batch_size=5, seed=7)[0][1])


def test_tf_dataset_repeat_streams_the_epochs_in_order():
    from fer.data.pipeline import tf_dataset

    ds = make_ds(n=40)
    seq = FERSequence(ds, "train", batch_size=8, seed=1)
    stream = iter(tf_dataset(ds, "train", batch_size=8, seed=1, repeat=True))
    for _epoch in range(2):
        for i in range(len(seq)):
            x, y = next(stream)
            np.testing.assert_array_equal(x.numpy(), seq[i][0])
        seq.on_epoch_end()


def test_tf_dataset_checks_its_arguments():
    from fer.data.pipeline import tf_dataset

    with pytest.raises(ValueError, match=r"'test'.*\['train', 'val'\]"):
        tf_dataset(make_ds(), "test")
    with pytest.raises(ValueError, match="soft_labels"):
        tf_dataset(make_ds(), "train", labels="soft")
    with pytest.raises(ValueError, match="batch_size"):
        tf_dataset(make_ds(), "train", batch_size=0)


def _top_bright_faces(n: int = 48, size: int = 32) -> np.ndarray:
    """Faces bright on top (rows < size/2) and dark below, with a bright left edge strip and some texture."""
    rng = np.random.default_rng(0)
    img = np.full((n, size, size, 1), 40, np.float32)
    img[:, : size // 2] = 210
    img[:, :, : size // 4] += 30
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_tf_augmentation_stays_in_range_changes_images_and_never_flips_vertically():
    import tensorflow as tf

    from fer.data.pipeline import augment_batch_tf

    images = _top_bright_faces()
    aug = Augment(brightness=0.4, contrast=0.3, erase=0.3)
    out = augment_batch_tf(tf.constant(images, tf.float32), tf.constant([3, 4], tf.int64), aug).numpy()
    assert out.dtype == np.float32 and out.shape == images.shape
    assert out.min() >= 0 and out.max() <= 255
    assert np.mean([not np.allclose(o, i, atol=1) for o, i in zip(out, images)]) > 0.9
    h = images.shape[1]
    top, bottom = out[:, : h // 2].mean(axis=(1, 2, 3)), out[:, h // 2:].mean(axis=(1, 2, 3))
    assert (top > bottom + 40).all()  # upright every time
    left, right = out[:, :, :4].mean(axis=(1, 2, 3)), out[:, :, -4:].mean(axis=(1, 2, 3))
    mirrored = right > left
    assert 0.2 < mirrored.mean() < 0.8  # about half are mirrored left-right
    # same key, same output; another key, other output
    again = augment_batch_tf(tf.constant(images, tf.float32), tf.constant([3, 4], tf.int64), aug).numpy()
    other = augment_batch_tf(tf.constant(images, tf.float32), tf.constant([3, 5], tf.int64), aug).numpy()
    np.testing.assert_array_equal(out, again)
    assert not np.allclose(out, other)


def test_tf_warp_is_the_opencv_warp_of_augment_batch():
    """Rotation direction, zoom, shift sign and flip order match cv2 (away from the borders)."""
    import cv2
    import tensorflow as tf

    from fer.data.pipeline import warp_tf

    rng = np.random.default_rng(0)
    images = cv2.GaussianBlur(rng.uniform(0, 255, (32, 32, 5)).astype(np.float32), (0, 0), 2)
    images = images.transpose(2, 0, 1)[..., None]
    angles = np.array([0.0, 12.0, -15.0, 7.0, 0.0], np.float32)
    scales = np.array([1.0, 1.1, 0.9, 1.0, 1.05], np.float32)
    shifts = np.array([[0, 0], [2, -3], [-1, 2], [0, 0], [3, 1]], np.float32)
    flips = np.array([False, False, False, True, True])
    out = warp_tf(tf.constant(images), tf.constant(angles), tf.constant(scales), tf.constant(shifts),
                  tf.constant(flips)).numpy()
    for i in range(len(images)):
        m = cv2.getRotationMatrix2D((16.0, 16.0), float(angles[i]), float(scales[i]))
        m[:, 2] += shifts[i]
        src = images[i, :, ::-1] if flips[i] else images[i]
        want = cv2.warpAffine(np.ascontiguousarray(src[..., 0]), m, (32, 32), flags=cv2.INTER_LINEAR)
        np.testing.assert_allclose(out[i, 6:26, 6:26, 0], want[6:26, 6:26], atol=0.5)


def test_tf_dataset_augmentation_and_mixup_are_deterministic_per_seed():
    from fer.data.pipeline import tf_dataset

    ds = make_ds(n=40, size=16)
    a = _numpy_batches(tf_dataset(ds, "train", batch_size=10, augment=True, mixup_alpha=0.4, seed=2))
    b = _numpy_batches(tf_dataset(ds, "train", batch_size=10, augment=True, mixup_alpha=0.4, seed=2))
    c = _numpy_batches(tf_dataset(ds, "train", batch_size=10, augment=True, mixup_alpha=0.4, seed=3))
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a[0][0], c[0][0])
    for x, y in a:
        np.testing.assert_allclose(y.sum(1), 1.0, rtol=1e-5)
        assert x.min() >= 0 and x.max() <= 255
    assert any(((y > 0.01) & (y < 0.99)).any() for _, y in a)  # labels really mixed
