"""fer.weight_averaging: averaged weights, exact BatchNorm re-estimation, the `average` command."""

import keras
import numpy as np
import pytest

from fer.class_names import attach_class_names, class_names
from fer.weight_averaging import average_weights, update_batchnorm


def _net(seed: int, width: int = 4) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(width, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(3, name="logits")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="net")


def test_average_is_the_weighted_mean_of_every_weight():
    a, b = _net(0), _net(1)
    equal = average_weights([a, b])
    skewed = average_weights([a, b], weights=[3, 1])
    for wa, wb, we, ws in zip(a.get_weights(), b.get_weights(), equal.get_weights(), skewed.get_weights()):
        np.testing.assert_allclose(we, (wa + wb) / 2, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(ws, 0.75 * wa + 0.25 * wb, rtol=1e-6, atol=1e-7)
    assert equal is not a and equal.get_layer("conv") is not a.get_layer("conv")
    # the inputs are untouched
    np.testing.assert_array_equal(a.get_layer("conv").get_weights()[0], _net(0).get_layer("conv").get_weights()[0])


def test_average_refuses_other_architectures_and_bad_weights():
    with pytest.raises(ValueError, match="at least two models"):
        average_weights([_net(0)])
    with pytest.raises(ValueError, match="model 1 .* is not the architecture of model 0"):
        average_weights([_net(0), _net(1, width=5)])
    with pytest.raises(ValueError, match="non-negative"):
        average_weights([_net(0), _net(1)], weights=[1, -1])
    with pytest.raises(ValueError, match="2 non-negative"):
        average_weights([_net(0), _net(1)], weights=[1, 1, 1])


def test_update_batchnorm_sets_the_mean_of_the_per_batch_statistics():
    model = _net(0)
    bn = model.get_layer("bn")
    bn.trainable = False
    images = np.random.default_rng(0).uniform(0, 255, (40, 6, 6, 1)).astype("float32")
    assert update_batchnorm(model, images, batch_size=10) == 1
    conv = keras.Model(model.input, model.get_layer("conv").output)
    feats = np.asarray(conv(images)).reshape(4, -1, 4)  # 4 batches of 10 faces x 4x4 positions
    np.testing.assert_allclose(bn.moving_mean.numpy(), feats.mean(axis=1).mean(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), feats.var(axis=1).mean(axis=0), rtol=1e-3, atol=1e-3)
    assert bn.momentum == 0.99 and bn.trainable is False  # restored
    expected = bn.moving_variance.numpy()
    bn.moving_variance.assign(np.ones(4, "float32"))
    batches = [(images[i:i + 10], np.zeros(10)) for i in range(0, 40, 10)]  # e.g. a FERSequence's (x, y)
    update_batchnorm(model, iter(batches))
    np.testing.assert_allclose(bn.moving_variance.numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="no images"):
        update_batchnorm(model, images[:0])
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert update_batchnorm(plain, np.zeros((4, 2))) == 0


def test_batchnorm_after_dropout_is_re_estimated_without_dropout_and_the_same_every_time():
    """Dropout before a BatchNorm layer is off while its statistics are measured: the result is what the
    layer sees at test time, the same on every call, and the dropout rate is restored."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    images = np.random.default_rng(0).uniform(0, 255, (40, 6, 6, 1)).astype("float32")
    bn = model.get_layer("bn")
    update_batchnorm(model, images, batch_size=10)
    first = bn.moving_variance.numpy().copy()
    update_batchnorm(model, images, batch_size=10)
    np.testing.assert_array_equal(bn.moving_variance.numpy(), first)
    feats = np.asarray(keras.Model(model.input, model.get_layer("conv").output)(images)).reshape(4, -1, 4)
    np.testing.assert_allclose(first, feats.var(axis=1).mean(axis=0), rtol=1e-3, atol=1e-3)  # no dropout in it
    assert model.get_layer("drop").rate == 0.5


def test_averaged_saved_models_keep_class_names_and_round_trip(tmp_path):
    paths = []
    for seed in (0, 1):
        model = attach_class_names(_net(seed), ["calm", "glad", "cross"])
        model.save(tmp_path / f"m{seed}.keras")
        paths.append(tmp_path / f"m{seed}.keras")
    images = np.random.default_rng(1).uniform(0, 255, (16, 6, 6, 1)).astype("float32")
    averaged = average_weights([keras.saving.load_model(p) for p in paths])
    update_batchnorm(averaged, images, batch_size=8)
    assert class_names(averaged) == ("calm", "glad", "cross")
    averaged.save(tmp_path / "avg.keras")
    again = keras.saving.load_model(tmp_path / "avg.keras")
    np.testing.assert_allclose(np.asarray(again(images)), np.asarray(averaged(images)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(again.get_layer("bn").moving_mean.numpy(), 0.0)


def test_recalibrate_command_writes_the_model_and_a_record(tmp_path, capsys):
    import hashlib
    import json

    from fer.__main__ import main
    from fer.data.sources import load_dataset

    paths = []
    for seed in (0, 1):
        _net(seed).save(tmp_path / f"m{seed}.keras")
        paths.append(str(tmp_path / f"m{seed}.keras"))
    out, record = tmp_path / "avg.keras", tmp_path / "avg.json"
    assert main(["recalibrate", *paths, "--data", "synthetic:10", "--batch-size", "16", "--out", str(out),
                 "--record", str(record)]) == 0
    assert "2 model(s)" in capsys.readouterr().out
    saved = json.loads(record.read_text())
    train_faces = int((load_dataset("synthetic:10").split == "train").sum())
    assert 0 < train_faces < 70 and saved["faces"] == train_faces and saved["batchnorm_layers"] == 1
    assert "pytest" in saved["command"]
    assert saved["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    averaged = keras.saving.load_model(out)
    expected = (_net(0).get_layer("conv").get_weights()[0] + _net(1).get_layer("conv").get_weights()[0]) / 2
    np.testing.assert_allclose(averaged.get_layer("conv").get_weights()[0], expected, rtol=1e-6, atol=1e-7)
    assert not np.allclose(averaged.get_layer("bn").moving_variance.numpy(), 1.0)
    assert main(["recalibrate", paths[0], "--data", "synthetic:10", "--out", str(tmp_path / "x.h5")]) == 1
    assert "give a .keras file name" in capsys.readouterr().err
    assert main(["recalibrate", paths[0], "--data", "synthetic:10", "--split", "holdout",
                 "--out", str(tmp_path / "x.keras")]) == 1
    assert "no such split" in capsys.readouterr().err and not (tmp_path / "x.keras").exists()


class _Snapshots(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_weight_average_resumes_without_counting_an_epoch_twice(tmp_path):
    from fer.weight_averaging import WeightAverage

    model = _net(0)
    snaps = []
    first = WeightAverage(tmp_path / "swa.npz", start_epoch=1)
    first.set_model(model)
    first.on_train_begin()
    for epoch in range(3):  # epochs 1 and 2 are averaged
        model.set_weights([w + epoch for w in _net(0).get_weights()])
        snaps.append(model.get_weights())
        first.on_epoch_end(epoch)
    resumed = WeightAverage(tmp_path / "swa.npz", start_epoch=1)  # an interrupted run restarts...
    resumed.set_model(model)
    resumed.on_train_begin()
    resumed.on_epoch_end(2)  # ...and repeats epoch 2: not counted again
    model.set_weights([w + 3 for w in _net(0).get_weights()])
    snaps.append(model.get_weights())
    resumed.on_epoch_end(3)
    for got, *per_epoch in zip(WeightAverage.load(tmp_path / "swa.npz"), *snaps):
        np.testing.assert_allclose(got, np.mean(per_epoch[1:], axis=0), rtol=1e-6, atol=1e-6)
        assert got.dtype == per_epoch[0].dtype
    assert resumed.count == 3 and [p.name for p in tmp_path.iterdir()] == ["swa.npz"]
    with pytest.raises(FileNotFoundError, match="no weight average"):
        WeightAverage.load(tmp_path / "nothing.npz")


def test_swa_training_ships_the_average_of_the_last_epochs(tmp_path):
    from fer.models import build
    from fer.train import Phase, train
    from tests.test_train import TINY, quadrant_faces, tiny_config

    snaps = _Snapshots()
    cfg = tiny_config(phases=[Phase(2, 1e-2, None), Phase(3, 5e-3, None, schedule="constant")], swa_epochs=2,
                      schedule="cosine", keep="last")
    run = train(quadrant_faces(8), cfg, tmp_path / "run", verbose=0, evaluate=False, callbacks=[snaps])
    assert len(snaps.weights) == 5 and not (tmp_path / "run" / "backup").exists()
    final = build("fer_resnet", (24, 24, 1), 4, **TINY)
    final.load_weights(tmp_path / "run" / "final.weights.h5")
    for got, *per_epoch in zip(final.get_weights(), *snaps.weights):
        np.testing.assert_allclose(got, np.mean(per_epoch[3:], axis=0), rtol=1e-5, atol=1e-6)
    conv = run.model.get_layer("stem1_conv").get_weights()[0]
    np.testing.assert_allclose(conv, final.get_layer("stem1_conv").get_weights()[0], rtol=1e-6)
    with pytest.raises(ValueError, match="keep='last'"):
        train(quadrant_faces(8), tiny_config(swa_epochs=1), tmp_path / "best", verbose=0)
    with pytest.raises(ValueError, match="swa_epochs=9 must be between 0 and the 4 epochs"):
        train(quadrant_faces(8), tiny_config(swa_epochs=9, keep="last"), tmp_path / "long", verbose=0)
