"""The image-folder reader: both layouts, mapping by name, custom classes, resizing, and bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer.data import DataError, load_image_folders, make_synthetic, write_synthetic
from fer.data.images import decode_image
from fer.labels import EMOTIONS


def put(path, image=None, ext=".png", size=8, value=None):
    """Write a small image file and return its pixels (grayscale)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if image is None:
        rng = np.random.default_rng(abs(hash(str(path))) % 2**32)
        image = rng.integers(0, 256, (size, size), dtype=np.uint8) if value is None else \
            np.full((size, size), value, np.uint8)
    ok, buf = cv2.imencode(ext, image)
    assert ok
    buf.tofile(str(path.with_suffix(ext)))
    return image


def test_kaggle_layout_maps_folders_by_name_not_position(tmp_path):
    # folder names in other spellings/cases and an alphabetical order that differs from EMOTIONS
    names = {"Angry": "angry", "disgust": "disgust", "FEAR": "fear", "happiness": "happy", "sadness": "sad",
             "surprised": "surprise", "neutral": "neutral"}
    for split in ("train", "test"):
        for folder in names:
            put(tmp_path / split / folder / "a")
    ds = load_image_folders(tmp_path)
    assert ds.classes == EMOTIONS and ds.meta["layout"] == "splits"
    for origin, label, split in zip(ds.origin, ds.labels, ds.split):
        split_dir, folder, _ = origin.split("/")
        assert ds.classes[label] == names[folder] and split == split_dir  # Kaggle's test/ is split "test"
    assert ds.meta["class_folders"]["happiness"] == "happy"


def test_split_folder_aliases(tmp_path):
    for folder in ("Training", "PublicTest", "PrivateTest"):
        put(tmp_path / folder / "happy" / "x")
    ds = load_image_folders(tmp_path)
    assert sorted(ds.split.tolist()) == ["test", "train", "val"]


def test_synthetic_folders_round_trip_pixels_and_labels(tmp_path):
    root = write_synthetic(tmp_path, "folders", n_per_class=3, size=24, seed=3)
    ref = make_synthetic(3, size=24, seed=3)
    ds = load_image_folders(root)
    assert len(ds) == len(ref) and ds.image_shape == (24, 24, 1)
    rows = np.array([int(o.split("/")[-1].split(".")[0]) for o in ds.origin])  # files are named by row
    np.testing.assert_array_equal(ds.images, ref.images[rows])
    np.testing.assert_array_equal(ds.labels, ref.labels[rows])
    np.testing.assert_array_equal(ds.split, ref.split[rows])


def test_flat_layout_with_given_split_and_jpeg(tmp_path):
    put(tmp_path / "happy" / "1", ext=".jpg")
    put(tmp_path / "sad" / "2", ext=".jpeg")
    ds = load_image_folders(tmp_path, split="test")
    assert ds.meta["layout"] == "flat" and ds.split.tolist() == ["test", "test"]
    assert [ds.classes[i] for i in ds.labels] == ["happy", "sad"]


def test_custom_classes_with_pain(tmp_path):
    put(tmp_path / "pain" / "1")
    put(tmp_path / "happy" / "2")
    ds = load_image_folders(tmp_path, classes=["pain", "Happiness"])
    assert ds.classes == ("pain", "happy")
    assert dict(zip(ds.origin, ds.labels.tolist())) == {"happy/2.png": 1, "pain/1.png": 0}


def test_duplicate_custom_classes_rejected(tmp_path):
    with pytest.raises(ValueError, match="same class more than once"):
        load_image_folders(tmp_path, classes=["anger", "angry"])


def test_unknown_class_folder_raises_naming_folder_and_known_names(tmp_path):
    put(tmp_path / "train" / "happy" / "1")
    put(tmp_path / "train" / "bored" / "1")
    with pytest.raises(DataError, match=r"train/bored: class folder 'bored' is not one of the classes.*"
                                         r"folder names understood: \[.*'anger'.*on_error='skip'"):
        load_image_folders(tmp_path)


def test_unknown_class_folder_skipped_and_reported(tmp_path):
    put(tmp_path / "train" / "happy" / "1")
    put(tmp_path / "train" / "contempt" / "1")
    with pytest.warns(UserWarning, match="skipped 1"):
        ds = load_image_folders(tmp_path, on_error="skip")
    assert len(ds) == 1 and "contempt" in ds.meta["skipped"][0][0]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_unreadable_image_raises_naming_file(tmp_path, damage):
    put(tmp_path / "happy" / "good", size=16)
    put(tmp_path / "happy" / "zbad", size=16)
    bad = tmp_path / "happy" / "zbad.png"
    data = bad.read_bytes()
    bad.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not an image", "empty": b""}[damage])
    with pytest.raises(DataError, match=r"zbad\.png: unreadable image.*Delete or replace the file"):
        load_image_folders(tmp_path)
    with pytest.warns(UserWarning, match="zbad.png"):
        ds = load_image_folders(tmp_path, on_error="skip")
    assert ds.origin.tolist() == ["happy/good.png"] and len(ds.meta["skipped"]) == 1


def test_truncated_jpeg_is_detected(tmp_path):
    put(tmp_path / "sad" / "a", ext=".jpg", size=48)
    path = tmp_path / "sad" / "a.jpg"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        decode_image(path)


def test_empty_split_raises_or_is_skipped(tmp_path):
    put(tmp_path / "train" / "happy" / "1")
    (tmp_path / "test" / "happy").mkdir(parents=True)  # a split whose class folders hold no images
    with pytest.raises(DataError, match=r"test: split 'test' contains no .* images"):
        load_image_folders(tmp_path)
    with pytest.warns(UserWarning):
        ds = load_image_folders(tmp_path, on_error="skip")
    assert ds.splits() == ["train"]


def test_no_images_at_all_is_an_error_even_when_skipping(tmp_path):
    (tmp_path / "happy").mkdir()
    with pytest.raises(DataError, match="no readable images.*contains no"):
        load_image_folders(tmp_path, on_error="skip")


def test_non_split_folder_next_to_split_folders(tmp_path):
    put(tmp_path / "train" / "happy" / "1")
    put(tmp_path / "extras" / "happy" / "1")
    with pytest.raises(DataError, match="'extras' is not a split folder"):
        load_image_folders(tmp_path)


def test_mixed_sizes_are_resized_to_first_or_given_size(tmp_path):
    put(tmp_path / "happy" / "a", size=20)
    put(tmp_path / "happy" / "b", image=np.full((40, 30), 200, np.uint8))
    ds = load_image_folders(tmp_path)
    assert ds.image_shape == (20, 20, 1) and ds.meta["resized"] == 1
    assert (ds.images[1] == 200).all()
    ds = load_image_folders(tmp_path, size=(12, 10))
    assert ds.image_shape == (12, 10, 1) and ds.meta["resized"] == 2


def test_rgb_mode_keeps_color_order(tmp_path):
    bgr = np.zeros((8, 8, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    put(tmp_path / "happy" / "red", image=bgr)
    ds = load_image_folders(tmp_path, color="rgb")
    assert ds.image_shape == (8, 8, 3) and (ds.images[0, ..., 0] == 255).all() and (ds.images[0, ..., 2] == 0).all()
    gray = load_image_folders(tmp_path)
    assert gray.image_shape == (8, 8, 1) and 70 <= int(gray.images[0, 0, 0, 0]) <= 80  # luma of red


def test_non_image_and_hidden_files_are_ignored_and_listed(tmp_path):
    put(tmp_path / "happy" / "a")
    (tmp_path / "happy" / "notes.txt").write_text("x")
    (tmp_path / "happy" / ".DS_Store").write_text("x")
    ds = load_image_folders(tmp_path)
    assert len(ds) == 1 and ds.meta["ignored"] == ["happy/notes.txt"]


def test_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_image_folders(tmp_path / "missing")
    with pytest.raises(ValueError, match="color"):
        load_image_folders(tmp_path, color="bgr")
    with pytest.raises(ValueError, match="split"):
        load_image_folders(tmp_path, split="holdout")


def test_empty_class_folder_is_named_in_a_warning(tmp_path):
    put(tmp_path / "train" / "happy" / "1")
    put(tmp_path / "train" / "sad" / "1")
    (tmp_path / "train" / "fear").mkdir()  # the fear faces were never copied
    with pytest.warns(UserWarning, match=r"1 class folder\(s\) hold no .* images.*train/fear"):
        ds = load_image_folders(tmp_path)
    assert ds.meta["empty_class_folders"] == ["train/fear"] and len(ds) == 2


def test_image_smaller_than_a_face_raises_or_is_skipped(tmp_path):
    put(tmp_path / "happy" / "a", size=1)  # first, so it would set the size of every face
    put(tmp_path / "happy" / "b", size=16)
    with pytest.raises(DataError, match=r"a\.png: image is 1x1 pixels, smaller than the 8x8.*Delete or replace"):
        load_image_folders(tmp_path)
    with pytest.warns(UserWarning, match="a.png"):
        ds = load_image_folders(tmp_path, on_error="skip")
    assert ds.origin.tolist() == ["happy/b.png"] and ds.image_shape == (16, 16, 1)


@pytest.mark.parametrize("where", ["image", "class_folder"])
def test_symlink_cycle_raises_a_data_error_or_is_skipped(tmp_path, where):
    import os

    put(tmp_path / "happy" / "good")
    if where == "image":
        os.symlink("y.png", tmp_path / "happy" / "x.png")
        os.symlink("x.png", tmp_path / "happy" / "y.png")
        loop = "x.png"
    else:
        os.symlink("surprise", tmp_path / "sad")
        os.symlink("sad", tmp_path / "surprise")
        loop = "sad"
    with pytest.raises(DataError, match=rf"{loop}: cannot be read .*symlink cycle.*Remove or fix the link"):
        load_image_folders(tmp_path)
    with pytest.warns(UserWarning, match="skipped 2"):
        ds = load_image_folders(tmp_path, on_error="skip")
    assert ds.origin.tolist() == ["happy/good.png"]
