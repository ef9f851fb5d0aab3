"""fer.train: learning, run folders, resuming, determinism, schedules and distribution strategies."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from fer.data import Dataset
from fer.train import TrainConfig, WarmupCosine, train

TINY = {"widths": (8, 16, 16, 16), "depths": (1, 1, 1, 1)}


def quadrant_faces(n_per_class: int = 24, size: int = 24, seed: int = 0) -> Dataset:
    """Four classes told apart by which quadrant is bright: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    k = 4
    images = rng.integers(0, 60, (k * n_per_class, size, size, 1)).astype(np.uint8)
    labels = np.repeat(np.arange(k), n_per_class)
    h = size // 2
    for i, c in enumerate(labels):
        y, x = divmod(int(c), 2)
        images[i, y * h:(y + 1) * h, x * h:(x + 1) * h] += 150
    split = np.where(np.arange(len(labels)) % 4 == 0, "val", "train")
    return Dataset(images, labels, split, np.full(len(labels), "quadrants"), np.arange(len(labels)),
                   classes=("a", "b", "c", "d"))


def tiny_config(**kw) -> TrainConfig:
    base = dict(model="fer_resnet", input_shape=(24, 24, 1), model_options=TINY, epochs=4, batch_size=8,
                lr=1e-2, augment=False, early_stopping=0, mixed_precision="float32", seed=1)
    base.update(kw)
    return TrainConfig(**base)


def test_training_learns_and_writes_the_run_folder(tmp_path):
    run = train(quadrant_faces(), tiny_config(epochs=8), tmp_path / "run", verbose=0, evaluate=False)
    for name in ("config.json", "env.json", "history.csv", "history.json", "model.keras", "final.keras"):
        assert (tmp_path / "run" / name).is_file(), name
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] == "fer_resnet" and config["classes"] == ["a", "b", "c", "d"]
    assert len(run.history["loss"]) == 8 and run.history["loss"][-1] < run.history["loss"][0]
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    val = quadrant_faces().subset("val")
    acc = (model.predict(val.images.astype("float32"), verbose=0).argmax(1) == val.labels).mean()
    assert acc > 0.5  # chance is 0.25


def test_same_seed_gives_the_same_weights(tmp_path):
    ds = quadrant_faces(8)
    cfg = tiny_config(epochs=1, augment=True)
    a = train(ds, cfg, tmp_path / "a", verbose=0, evaluate=False).model.get_weights()
    b = train(ds, cfg, tmp_path / "b", verbose=0, evaluate=False).model.get_weights()
    c = train(ds, cfg, tmp_path / "c", verbose=0, evaluate=False, seed=2).model.get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    # run.json records the weights' hash: equal for the identical runs, different for the other seed
    h = {k: json.loads((tmp_path / k / "run.json").read_text())["model_weights_sha256"] for k in "abc"}
    assert h["a"] == h["b"] != h["c"]
    assert h["a"] == _hash(keras.saving.load_model(tmp_path / "a" / "model.keras"))


class Interrupt(keras.callbacks.Callback):
    def __init__(self, after_epoch: int = 1):
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after_epoch:
            raise KeyboardInterrupt("simulated power cut")


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    ds = quadrant_faces(8)
    cfg = tiny_config(epochs=4)
    with pytest.raises(KeyboardInterrupt):
        train(ds, cfg, tmp_path / "run", verbose=0, evaluate=False, callbacks=[Interrupt()])
    assert any((tmp_path / "run" / "backup").rglob("*"))
    run = train(ds, cfg, tmp_path / "run", verbose=0, evaluate=False)
    epochs = [int(line.split(",")[0]) for line in (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]]
    assert epochs == [0, 1, 2, 3]  # two before the cut, two after: nothing trained twice
    # history.json (and the returned history) hold the epochs before the cut too, the same values as history.csv
    saved = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(run.history["loss"]) == len(saved["loss"]) == 4
    assert saved["loss"] == [float(line.split(",")[_column(tmp_path / "run", "loss")])
                             for line in (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]]


class CutInside(keras.callbacks.Callback):
    """Raises after batch ``batch`` of epoch ``epoch`` (after the built-in callbacks saved what they save)."""

    def __init__(self, epoch: int, batch: int):
        super().__init__()
        self.cut, self.epoch = (epoch, batch), -1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.cut:
            raise KeyboardInterrupt("simulated power cut inside an epoch")


class Steps(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches, self.iterations = 0, None

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_train_end(self, logs=None):
        self.iterations = int(self.model.optimizer.iterations)


def test_a_run_cut_inside_an_epoch_trains_each_batch_of_its_budget_once(tmp_path):
    """With a checkpoint every 2 steps, a cut after batch 2 of epoch 1 (6 batches an epoch) resumes after the
    checkpoint's 2 batches: the resumed run trains the other 4, then epochs 2 and 3, and the optimizer (so the
    learning-rate schedule) goes on from step 8 to the budget's 24, not from 0 nor 2 steps too many."""
    from fer.training.backup import resume_point

    ds, cfg = quadrant_faces(16), tiny_config(epochs=4, backup_steps=2)  # 48 training faces: 6 batches of 8
    with pytest.raises(KeyboardInterrupt):
        train(ds, cfg, tmp_path / "run", verbose=0, evaluate=False, callbacks=[CutInside(1, 2)])
    assert resume_point(tmp_path / "run" / "backup" / "phase0") == (1, 2)
    steps = Steps()
    train(ds, cfg, tmp_path / "run", verbose=0, evaluate=False, callbacks=[steps])
    assert steps.batches == 4 + 6 + 6 and steps.iterations == 4 * 6
    epochs = [int(line.split(",")[0]) for line in (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]]
    assert epochs == [0, 1, 2, 3]


def test_training_time_counts_the_epochs_before_a_cut_and_not_a_pause(tmp_path):
    """Every epoch is timed, those trained before an interruption too, so the run's training time is the epochs
    times the median epoch, whatever the process' wall time was; one epoch stalled (a paused job) moves nothing."""
    from fer.training.history import read_history_csv, training_seconds

    ds = quadrant_faces(8)
    cfg = tiny_config(epochs=4)
    with pytest.raises(KeyboardInterrupt):
        train(ds, cfg, tmp_path / "run", verbose=0, evaluate=False, callbacks=[Interrupt()])
    before = read_history_csv(tmp_path / "run" / "history.csv")
    train(ds, cfg, tmp_path / "run", verbose=0, evaluate=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    seconds = history["epoch_seconds"]
    assert len(seconds) == 4 and all(s > 0 for s in seconds)
    assert seconds[:2] == [before[0]["epoch_seconds"], before[1]["epoch_seconds"]]  # kept across the resume
    assert training_seconds(history) == pytest.approx(4 * float(np.median(seconds)))
    stalled = {**history, "epoch_seconds": [*seconds[:3], seconds[3] + 3600.0]}
    assert training_seconds(stalled) < 4 * max(seconds[:3]) + 1e-9
    assert training_seconds({"loss": [1.0, 0.5, 0.2], "wall_seconds": 9.0}) is None  # not timed: unknown


def _column(run, name: str) -> int:
    return (run / "history.csv").read_text().splitlines()[0].split(",").index(name)


def test_a_checkpoint_row_trained_again_after_a_cut_replaces_its_row(tmp_path):
    """A cut after an epoch's history row was written but before its checkpoint: the epoch is trained again and
    its row replaced, not duplicated, and best.keras follows the best epoch of the whole run."""
    from fer.train import read_history_csv, write_history_csv

    ds = quadrant_faces(8)
    cfg = tiny_config(epochs=3)
    with pytest.raises(KeyboardInterrupt):
        train(ds, cfg, tmp_path / "run", verbose=0, evaluate=False, callbacks=[Interrupt(after_epoch=1)])
    rows = read_history_csv(tmp_path / "run" / "history.csv")
    rows[2] = {k: -1.0 for k in rows[1]}  # a row the checkpoint (epoch 2 next) does not cover
    write_history_csv(rows, tmp_path / "run" / "history.csv")
    run = train(ds, cfg, tmp_path / "run", verbose=0, evaluate=False)
    rows = read_history_csv(tmp_path / "run" / "history.csv")
    assert sorted(rows) == [0, 1, 2] and rows[2]["loss"] > 0 and run.history["loss"][2] == rows[2]["loss"]


def test_missing_validation_split_trains_anyway(tmp_path, capsys):
    ds = quadrant_faces(8)
    train_only = ds.select(ds.split == "train")
    run = train(train_only, tiny_config(epochs=1), tmp_path / "run", verbose=0)
    assert "training without validation" in capsys.readouterr().err
    assert (tmp_path / "run" / "model.keras").is_file() and run.metrics == {}


def test_warmup_cosine_schedule_shape():
    s = WarmupCosine(1.0, total_steps=110, warmup_steps=10, floor=0.0)
    lr = [float(s(i)) for i in range(111)]
    assert lr[0] == pytest.approx(0.1) and lr[9] == pytest.approx(1.0)
    assert lr[10] == pytest.approx(1.0) and lr[60] == pytest.approx(0.5, abs=1e-6) and lr[110] == pytest.approx(0.0)
    assert all(a >= b for a, b in zip(lr[10:], lr[11:]))
    r = WarmupCosine(1.0, total_steps=70, first_period=10, t_mul=2.0, restarts=True)
    assert float(r(0)) == pytest.approx(1.0) and float(r(9)) < 0.1
    assert float(r(10)) == pytest.approx(1.0) and float(r(30)) == pytest.approx(1.0)  # periods 10, 20, 40


def test_mirrored_strategy_over_two_logical_cpus(tmp_path):
    code = textwrap.dedent(f"""
        import os, sys
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        sys.path.insert(0, {str(tmp_path.parent)!r})
        from tests.test_train import quadrant_faces, tiny_config
        from fer.train import train
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        run = train(quadrant_faces(8), tiny_config(epochs=2, deterministic=False), {str(tmp_path / 'run')!r},
                    strategy=strategy, verbose=0, evaluate=False)
        print("replicas", strategy.num_replicas_in_sync, "loss", run.history["loss"][-1])
    """)
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = code.replace(repr(str(tmp_path.parent)), repr(str(root)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=root)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "replicas 2" in out.stdout
    assert (tmp_path / "run" / "model.keras").is_file()


def test_rerunning_a_finished_run_reports_it_and_trains_nothing(tmp_path, capsys):
    ds = quadrant_faces(8)
    first = train(ds, tiny_config(epochs=1), tmp_path / "run", verbose=0)
    files = {name: (tmp_path / "run" / name).read_bytes() for name in ("model.keras", "history.csv", "history.json")}
    again = train(ds, tiny_config(epochs=1), tmp_path / "run", verbose=0)
    assert again.status == "finished" and "holds this run, finished" in capsys.readouterr().err
    assert all((tmp_path / "run" / name).read_bytes() == data for name, data in files.items())  # nothing rewritten
    assert again.history["loss"] == first.history["loss"]
    assert again.metrics["val"]["accuracy"] == first.metrics["val"]["accuracy"]
    assert np.array_equal(again.model.get_weights()[0], keras.saving.load_model(tmp_path / "run" / "model.keras")
                          .get_weights()[0])
    with pytest.raises(ValueError, match=r"holds a finished run of another configuration \(epochs: 1 -> 2\); "
                                         r"pass --force"):
        train(ds, tiny_config(epochs=2), tmp_path / "run", verbose=0)
    assert (tmp_path / "run" / "model.keras").read_bytes() == files["model.keras"]


def test_training_that_ended_before_its_final_files_is_finished_without_training_again(tmp_path):
    """Killed after training, while the final model or the metrics were written: re-running writes them
    from final.weights.h5 instead of training again."""
    ds = quadrant_faces(8)
    first = train(ds, tiny_config(epochs=2), tmp_path / "run", verbose=0, evaluate=False)
    for name in ("run.json", "model.keras", "final.keras"):
        (tmp_path / "run" / name).unlink()
    csv_before = (tmp_path / "run" / "history.csv").read_bytes()
    run = train(ds, tiny_config(epochs=2), tmp_path / "run", verbose=0, evaluate=False)
    assert run.status == "trained" and (tmp_path / "run" / "model.keras").is_file()
    assert (tmp_path / "run" / "history.csv").read_bytes() == csv_before
    assert run.history["loss"] == first.history["loss"]
    # the final model has the weights the first attempt trained
    assert json.loads((tmp_path / "run" / "run.json").read_text())["final_weights_sha256"] == _hash(first.model)


def _hash(model) -> str:
    from fer.provenance import weights_sha256

    return weights_sha256(model)


@pytest.mark.parametrize("override, message", [
    ({"model": "nope"}, r"model='nope' \(--model\): no such architecture; choose one of \[.*'baseline_cnn'"),
    ({"epochs": 0}, r"epochs=0 \(--epochs\): train at least 1 epoch, e.g. --epochs 30"),
    ({"lr": -0.01}, r"lr=-0.01 \(--lr\): the learning rate must be a positive number"),
    ({"lr": 0.0}, r"lr=0.0 \(--lr\)"),
    ({"batch_size": 0}, r"batch_size=0 \(--batch-size\)"),
    ({"optimizer": "adagrad"}, r"optimizer='adagrad': choose one of"),
])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, override, message):
    from fer.errors import UsageError

    with pytest.raises(UsageError, match=message):
        train(quadrant_faces(4), tiny_config(**override), tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_a_file_in_the_way_of_the_run_folder_is_one_clear_error(tmp_path):
    from fer.errors import UsageError

    (tmp_path / "taken").write_text("x")
    with pytest.raises(UsageError, match=r"--out .*taken/run: .*taken is a file, not a folder; choose another --out"):
        train(quadrant_faces(4), tiny_config(epochs=1), tmp_path / "taken" / "run", verbose=0)


def test_a_new_run_in_an_old_folder_starts_clean(tmp_path):
    ds = quadrant_faces(8)
    train(ds, tiny_config(epochs=2), tmp_path / "run", verbose=0)
    assert (tmp_path / "run" / "metrics_val.json").is_file()
    train(ds, tiny_config(epochs=1), tmp_path / "run", verbose=0, evaluate=False, force=True)
    rows = (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [0]  # not 0, 1, 0
    assert not (tmp_path / "run" / "metrics_val.json").exists()  # stale metrics of the first run are gone
    assert not (tmp_path / "run" / "backup").exists()  # a finished run leaves nothing to resume


def test_phases_freeze_the_backbone_then_unfreeze_it(tmp_path):
    """Head only → last layers → everything, on a flat EfficientNet graph; BatchNorm stays frozen."""
    from fer.models import build
    from fer.train import Phase, _backbone_layers, _set_trainable

    model = build("efficientnet_b0", (32, 32, 1))
    backbone = _backbone_layers(model)
    assert backbone and all(layer.name not in ("avg_pool", "logits", "rescale") for layer in backbone)
    counts = []
    for n in (0, 20, -1):
        _set_trainable(model, n)
        counts.append(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
        assert not any(layer.trainable for layer in backbone if isinstance(layer, keras.layers.BatchNormalization))
    head = sum(int(np.prod(w.shape)) for layer in model.layers[model.layers.index(backbone[-1]) + 1:]
               for w in layer.trainable_weights)
    assert counts[0] == head and counts[0] < counts[1] < counts[2]
    ds = quadrant_faces(4, size=32)
    run = train(ds, tiny_config(model="efficientnet_b0", input_shape=(32, 32, 1), model_options={},
                                phases=[Phase(1, 1e-3, 0), Phase(1, 1e-4, -1)]), tmp_path / "run", verbose=0,
                evaluate=False)
    assert len(run.history["loss"]) == 2


def test_an_interrupted_multi_phase_run_resumes_in_the_phase_it_stopped_in(tmp_path):
    """Two learning-rate cycles (warm restart); the cut comes in the second: the first is not trained again."""
    from fer.train import Phase

    ds = quadrant_faces(8)
    cfg = tiny_config(phases=[Phase(2, 1e-2, None), Phase(2, 5e-3, None)], schedule="cosine")
    with pytest.raises(KeyboardInterrupt):
        train(ds, cfg, tmp_path / "run", verbose=0, evaluate=False, callbacks=[Interrupt(after_epoch=2)])
    assert (tmp_path / "run" / "backup" / "phase0.done.weights.h5").is_file()
    run = train(ds, cfg, tmp_path / "run", verbose=0, evaluate=False)
    epochs = [int(line.split(",")[0]) for line in (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]]
    assert epochs == [0, 1, 2, 3]
    assert len(run.history["loss"]) == 4  # phase 0, the epoch before the cut and the last one: every epoch
    assert not (tmp_path / "run" / "backup").exists()


def test_phase_without_trainable_layers_trains_everything_including_batchnorm(tmp_path):
    from fer.models import build
    from fer.train import _set_trainable

    model = build("fer_resnet", (24, 24, 1), 4, **TINY)
    _set_trainable(model, 0)  # head only: the backbone, BatchNorm included, is frozen
    _set_trainable(model, None)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(layer.trainable for layer in bns)
    assert len(model.trainable_weights) == len([w for w in model.weights if "moving" not in w.path])


def test_init_from_copies_every_matching_layer_and_leaves_a_new_head(tmp_path):
    from fer.models import build
    from fer.train import init_weights

    source = build("fer_resnet", (24, 24, 1), 4, **TINY)
    source.save(tmp_path / "source.keras")
    target = build("fer_resnet", (24, 24, 1), 3, **TINY)  # 3 classes: a new classifier
    fresh = init_weights(target, tmp_path / "source.keras")
    assert fresh == ["logits"]
    for layer in target.layers:
        if layer.weights and layer.name not in fresh:
            for a, b in zip(layer.get_weights(), source.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError, match="init_from='nowhere.keras'"):
        init_weights(target, "nowhere.keras")
    with pytest.raises(ValueError, match="different architecture"):
        init_weights(build("simple_cnn", (24, 24, 1), 3), tmp_path / "source.keras")


def test_arcface_training_saves_a_plain_softmax_classifier(tmp_path):
    """loss='arcface' trains margin logits on the embedding (+ center loss) and ships softmax(s·cos θ)."""
    ds = quadrant_faces(8)
    cfg = tiny_config(loss="arcface", arcface_s=8.0, arcface_m=0.2, center_loss_weight=0.01, epochs=6, keep="best")
    run = train(ds, cfg, tmp_path / "run", verbose=0)
    saved = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert len(saved.inputs) == 1 and saved.output.shape[-1] == 4  # images in, probabilities out: no label input
    probs = saved.predict(ds.subset("val").images.astype("float32"), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert run.history["loss"][-1] < run.history["loss"][0]
    assert run.metrics["val"]["accuracy"] > 0.5  # chance is 0.25


def test_arcface_uses_the_embedding_layer_when_the_model_has_one():
    from fer.train import build_models

    fit_model, run_model = build_models(TrainConfig(model="mobilenet_cbam", loss="arcface"), (32, 32, 1), 5)
    assert sorted(t.name for t in fit_model.inputs) == ["image", "label"] and len(run_model.inputs) == 1
    arcface = run_model.get_layer("arcface")
    assert tuple(arcface.kernel.shape) == (1024, 5)  # on the 1024-wide pooled embedding, not on the logits
    plain, same = build_models(TrainConfig(model="mobilenet_cbam"), (32, 32, 1), 5)
    assert plain is same


def test_init_from_is_recorded_with_the_file_hash(tmp_path):
    import hashlib

    from fer.models import build

    source = build("fer_resnet", (24, 24, 1), 3, **TINY)  # another class count: only the classifier is new
    source.save(tmp_path / "source.keras")
    train(quadrant_faces(4), tiny_config(epochs=1, init_from=str(tmp_path / "source.keras")), tmp_path / "run",
          verbose=0, evaluate=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["init_from_sha256"] == hashlib.sha256((tmp_path / "source.keras").read_bytes()).hexdigest()


def test_recalibrate_bn_re_estimates_the_statistics_on_clean_training_faces(tmp_path):
    from fer.data.pipeline import FERSequence
    from fer.models import build
    from fer.weight_averaging import update_batchnorm

    ds = quadrant_faces(8)
    augment = {"brightness": 0.4, "contrast": 0.4, "erase": 0.5}
    train(ds, tiny_config(epochs=1, augment=augment, keep="last", recalibrate_bn=True), tmp_path / "run",
          verbose=0, evaluate=False)
    saved = keras.saving.load_model(tmp_path / "run" / "model.keras")
    trained = build("fer_resnet", (24, 24, 1), 4, **TINY)
    trained.load_weights(tmp_path / "run" / "final.weights.h5")  # the weights as training left them
    bn = "stage1_block1_a_bn"
    assert not np.allclose(saved.get_layer(bn).moving_variance.numpy(), trained.get_layer(bn).moving_variance.numpy())
    update_batchnorm(trained, FERSequence(ds, "train", (24, 24, 1), 8, augment=False, shuffle=True, seed=1))
    for layer in saved.layers:
        for a, b in zip(layer.get_weights(), trained.get_layer(layer.name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_soft_labels_are_the_training_targets(tmp_path):
    ds = quadrant_faces(16)
    # soft labels that name the *next* quadrant: a model trained on them predicts label + 1
    ds.soft_labels = np.eye(4, dtype=np.float32)[(ds.labels + 1) % 4]
    run = train(ds, tiny_config(epochs=8, soft_labels=True), tmp_path / "run", verbose=0, evaluate=False)
    val = ds.subset("val")
    pred = run.model.predict(val.images.astype("float32"), verbose=0).argmax(1)
    assert (pred == (val.labels + 1) % 4).mean() > 0.5
    with pytest.raises(ValueError, match="soft_labels=True cannot train loss='arcface'"):
        train(ds, tiny_config(soft_labels=True, loss="arcface"), tmp_path / "arc", verbose=0)
