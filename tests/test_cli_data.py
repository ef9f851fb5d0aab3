"""Data as users download it, from the command line: a carved validation split, extra classes, re-splits."""

import json

import numpy as np
import pytest

from fer.__main__ import main
from fer.data import make_synthetic
from fer.data.sources import load_dataset
from fer.data.splits import carve_validation
from fer.data.writers import write_image_folders
from fer.labels import EMOTIONS

TINY = ["--model", "baseline_cnn", "--epochs", "1", "--batch-size", "16", "--quiet"]


@pytest.fixture(scope="module")
def kaggle_release(tmp_path_factory):
    """Kaggle's FER2013 image release has train/ and test/ only (made with the project's own writer)."""
    root = tmp_path_factory.mktemp("kaggle") / "fer2013"
    write_image_folders(make_synthetic(n_per_class=10, seed=0, splits=(0.8, 0.0, 0.2)), root)
    return root


def test_a_release_without_validation_trains_on_a_carved_split_and_resumes_with_it(kaggle_release, tmp_path,
                                                                                  capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--data", str(kaggle_release), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "carved 10% of train" in err and "test is untouched" in err
    config = json.loads((out / "config.json").read_text())
    carved = config["carved_validation"]
    assert carved["fraction"] == 0.1 and config["val_split"] == "val"
    expected = carve_validation(load_dataset(kaggle_release), 0.1, seed=carved["seed"])
    import hashlib

    assert carved["split_sha256"] == hashlib.sha256(expected.split.astype(str).tobytes()).hexdigest()
    assert (out / "metrics_val.json").is_file() and (out / "metrics_test.json").is_file()
    # the same command again: the same split, so the finished run is recognised and left alone
    assert main(["train", *TINY, "--data", str(kaggle_release), "--out", str(out)]) == 0
    assert "already finished" in capsys.readouterr().out
    # another split is another run: refused with the fix
    assert main(["train", *TINY, "--data", str(kaggle_release), "--out", str(out), "--val-split", "0.2"]) == 2
    assert "another configuration" in capsys.readouterr().err


def test_an_extra_class_folder_trains_evaluates_and_predicts_with_8_classes(tmp_path, capsys):
    from dataclasses import replace

    classes = (*EMOTIONS, "pain")  # the generator has no pain face: its contempt faces stand in for it
    root = tmp_path / "pain_set"
    write_image_folders(replace(make_synthetic(n_per_class=8, seed=1, classes=(*EMOTIONS, "contempt")),
                                classes=classes), root)
    ds = load_dataset(root)
    assert ds.classes == classes  # the seven emotions keep ids 0-6, pain is 7
    out = tmp_path / "run"
    assert main(["train", *TINY, "--data", str(root), "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["classes"] == list(classes)
    metrics = tmp_path / "m.json"
    assert main(["evaluate", "--model", str(out / "model.keras"), "--data", str(root), "--split", "test",
                 "--out", str(metrics)]) == 0
    assert "pain" in json.loads(metrics.read_text())["per_class"]
    crops = tmp_path / "crops"
    crops.mkdir()
    pain_face = next((root / "test" / "pain").iterdir())
    (crops / "face.png").write_bytes(pain_face.read_bytes())
    assert main(["predict", str(crops), "--no-detect", "--model", str(out / "model.keras"),
                 "--out", str(tmp_path / "pred")]) == 0
    report = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    assert report["classes"] == list(classes)
    assert np.isclose(sum(report["images"][0]["faces"][0]["probabilities"].values()), 1.0, atol=1e-4)


@pytest.mark.parametrize("args, message", [
    (["--val-split", "0.7"], "--val-split 0.7: the validation fraction must be in (0, 0.5]"),
    (["--resplit", "0.7,0.2,0.2"], "sum to 1"),
    (["--phase", "20:fast:0"], "EPOCHS:LR:LAYERS"),
    (["--metrics", "accuracy,auc"], "choose from"),
    (["--clipnorm", "-1"], "positive gradient norm"),
])
def test_bad_data_options_are_one_clear_line(kaggle_release, tmp_path, capsys, args, message):
    assert main(["train", *TINY, "--data", str(kaggle_release), "--out", str(tmp_path / "r"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()  # nothing written


def test_an_unknown_recipe_and_a_class_with_one_image_are_one_clear_line(tmp_path, capsys):
    assert main(["train", "--recipe", "vgg_from_the_paper", "--data", "synthetic:5"]) != 0
    err = capsys.readouterr().err.strip()
    assert "unknown recipe 'vgg_from_the_paper'" in err and len(err.splitlines()) == 1
    ds = make_synthetic(n_per_class=6, seed=0, splits=(1.0, 0.0, 0.0), classes=("happy", "sad"))
    root = tmp_path / "lonely"
    write_image_folders(ds, root)
    sad = sorted((root / "train" / "sad").iterdir())
    for extra in sad[1:]:
        extra.unlink()
    assert main(["train", *TINY, "--data", str(root), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip()
    assert "class 'sad' has only 1 train face" in err and len(err.splitlines()) == 1


def test_resplit_replaces_the_published_splits(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--data", "synthetic:10", "--resplit", "0.7,0.1,0.2", "--out", str(out),
                 "--metrics", "accuracy,precision,recall", "--clipnorm", "1.0", "--schedule", "cosine_restarts"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["resplit"]["fractions"] == [0.7, 0.1, 0.2] and config["clipnorm"] == 1.0
    history = json.loads((out / "history.json").read_text())
    assert {"precision", "recall", "val_precision", "val_recall"} <= set(history)
