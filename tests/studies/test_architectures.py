"""The architecture study: one protocol, budget accounting, skipping finished runs, resume, the report."""

import json

import keras
import numpy as np
import pytest

import fer.train
from fer.data import make_synthetic
from fer.studies import architectures as arch, report


@pytest.fixture(scope="module")
def faces():
    return make_synthetic(n_per_class=12, seed=0)


def test_every_model_of_the_registry_is_in_the_study():
    import fer.models

    # the landmark and fusion models too, and the graph network on both of its graphs
    assert set(fer.models.available()) <= {e.model for e in arch.ENTRIES}
    assert {e.options.get("graph") for e in arch.ENTRIES if e.model == "landmark_gnn"} == {"mesh", "anatomical"}
    assert len({e.name for e in arch.ENTRIES}) == len(arch.ENTRIES)
    # the runs finished before the landmark entries were added keep their place (and their settings)
    assert [e.name for e in arch.ENTRIES[:4]] == ["simple_cnn", "cnn_spatial_attention", "mobilenet_cbam",
                                                  "mobilenet_cbam_arcface"]


def test_one_budget_and_one_protocol_for_every_entry():
    from fer.landmarks.data import LANDMARK_AUGMENT

    configs = [arch.run_config(e) for e in arch.ENTRIES]
    assert {c.epochs for c in configs} == {arch.SCALES["cpu"]["epochs"]}
    assert {(c.optimizer, c.lr, c.label_smoothing, c.schedule, c.batch_size, c.keep, c.seed, c.warmup_epochs)
            for c in configs} == {("adam", 1e-3, 0.1, "cosine", 64, "last", 0, 1)}
    # the image augmentation for image models, its landmark counterpart (what train() uses) for the others
    assert {str(c.augment) for e, c in zip(arch.ENTRIES, configs) if e.sees == "image"} == {"True"}
    assert all(c.augment == LANDMARK_AUGMENT for e, c in zip(arch.ENTRIES, configs) if e.sees != "image")
    spent = {arch.budget(c, 28709)["images_seen"] for c in configs}
    assert spent == {arch.SCALES["cpu"]["epochs"] * 28709}
    assert all("weights" not in c.model_options for c in configs)  # no download on the CPU scale
    arc = arch.run_config(arch.entry("mobilenet_cbam_arcface"))
    assert arc.loss == "arcface" and arc.model_options == {"embedding": True}
    assert arch.run_config(arch.entry("fer_resnet")).resolved_shape() == (48, 48, 1)


def test_the_gpu_scale_uses_the_sources_sizes_and_imagenet_weights():
    r50 = arch.run_config(arch.entry("resnet50"), "gpu")
    assert r50.resolved_shape() == (224, 224, 3) and r50.model_options["weights"] == "imagenet"
    assert "weights" not in arch.run_config(arch.entry("cbam_5cnn"), "gpu").model_options
    assert arch.run_config(arch.entry("fer_resnet"), "gpu").epochs == arch.SCALES["gpu"]["epochs"]
    with pytest.raises(ValueError, match="scale"):
        arch.run_config(arch.entry("resnet50"), "tpu")
    with pytest.raises(ValueError, match="unknown study entry"):
        arch.entry("vgg99")


def test_a_finished_run_is_skipped_and_a_changed_protocol_is_refused(faces, tmp_path, monkeypatch):
    (run,) = arch.run_study(faces, tmp_path, ["baseline_cnn"], epochs=1, seconds=0.05, log=lambda _: None)
    record = json.loads((run / arch.RECORD).read_text())
    assert record["budget"] == {"epochs": 1, "train_faces": int((faces.split == "train").sum()),
                                "images_seen": int((faces.split == "train").sum())}
    assert record["eval_faces"] == int((faces.split == "val").sum())
    ci = record["confidence_95"]["accuracy"]
    assert ci["low"] <= record["accuracy"] <= ci["high"]
    assert record["cost"]["params"] == keras.saving.load_model(run / "model.keras").count_params()
    assert record["cost"]["flops_per_face"] > 0
    stamp = (run / "model.keras").stat().st_mtime_ns

    def no_training(*a, **k):
        raise AssertionError("a finished run must not be trained again")

    monkeypatch.setattr(fer.train, "train", no_training)
    lines = []
    arch.run_study(faces, tmp_path, ["baseline_cnn"], epochs=1, seconds=0.05, log=lines.append)
    assert (run / "model.keras").stat().st_mtime_ns == stamp and "skipped" in lines[0]
    lines.clear()  # how often a run saves its checkpoint is no other protocol: still finished
    arch.run_study(faces, tmp_path, ["baseline_cnn"], epochs=1, seconds=0.05, log=lines.append, backup_steps=5)
    assert "skipped" in lines[0]
    with pytest.raises(ValueError, match="--rerun baseline_cnn"):
        arch.run_study(faces, tmp_path, ["baseline_cnn"], epochs=2, log=lambda _: None)
    # trained and evaluated but not recorded (stopped during the measurement): recorded without training
    (run / arch.RECORD).unlink()
    arch.run_study(faces, tmp_path, ["baseline_cnn"], epochs=1, seconds=0.05, log=lambda _: None)
    assert (run / arch.RECORD).is_file() and (run / "model.keras").stat().st_mtime_ns == stamp
    table = arch.write_report(tmp_path)
    assert list(table["name"]) == ["baseline_cnn"]
    assert {p.name for p in (tmp_path / "figures").glob("*.png")} == {
        "scores.png", "accuracy_vs_params.png", "accuracy_vs_latency.png", "accuracy_vs_training_time.png",
        "validation_curves.png", "per_class_f1.png"}
    assert "`baseline_cnn`" in (tmp_path / "comparison.md").read_text()


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt("simulated stop")


def test_an_interrupted_study_continues_where_it_stopped(faces, tmp_path, monkeypatch):
    real_train = fer.train.train
    calls = []

    def stopping_train(*args, **kwargs):
        calls.append(1)
        callbacks = [_StopAfterFirstEpoch()] if len(calls) == 1 else []
        return real_train(*args, callbacks=callbacks, **kwargs)

    monkeypatch.setattr(fer.train, "train", stopping_train)
    with pytest.raises(KeyboardInterrupt):
        arch.run_study(faces, tmp_path, ["baseline_cnn"], epochs=2, seconds=0.05, log=lambda _: None)
    assert arch.run_state(tmp_path / "baseline_cnn", arch.run_config(arch.entry("baseline_cnn"), epochs=2)) == \
        "interrupted"
    lines = []
    arch.run_study(faces, tmp_path, ["baseline_cnn"], epochs=2, seconds=0.05, log=lines.append)
    assert "resuming" in lines[0]
    epochs = [int(r.split(",")[0]) for r in (tmp_path / "baseline_cnn" / "history.csv").read_text().splitlines()[1:]]
    assert epochs == [0, 1]  # the first epoch was not trained twice
    record = json.loads((tmp_path / "baseline_cnn" / arch.RECORD).read_text())
    assert record["budget"]["epochs"] == 2
    # the training time counts both epochs (the one before the stop too), and it is the table's training time
    seconds = json.loads((tmp_path / "baseline_cnn" / "history.json").read_text())["epoch_seconds"]
    assert record["train_seconds"] == pytest.approx(2 * float(np.median(seconds)))
    assert record["train_images_per_s_run"] == pytest.approx(record["budget"]["images_seen"] / record["train_seconds"])
    table = arch.write_report(tmp_path)
    assert table.loc[0, "train_hours"] == pytest.approx(record["train_seconds"] / 3600)
    assert report.WALL_MARK not in (tmp_path / "comparison.md").read_text()
    # a record from before epochs were timed: its wall clock, marked as such
    record.pop("train_seconds")
    (tmp_path / "baseline_cnn" / arch.RECORD).write_text(json.dumps(record))
    table = arch.write_report(tmp_path)
    assert table.loc[0, "train_hours"] == pytest.approx(record["wall_seconds"] / 3600)
    text = (tmp_path / "comparison.md").read_text()
    assert f"{table.loc[0, 'train_hours']:.2f}{report.WALL_MARK} |" in text and "wall clock" in text


def test_the_study_says_which_split_is_missing(faces, tmp_path):
    no_val = faces.select(faces.split != "val")
    with pytest.raises(ValueError, match="missing \\['val'\\]"):
        arch.run_study(no_val, tmp_path, ["baseline_cnn"], epochs=1)


def test_the_readme_table_goes_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.README_BEGIN}\nold table\n{report.README_END}\noutro\n")
    report.update_readme(readme, "| new |\n")
    assert readme.read_text() == f"intro\n{report.README_BEGIN}\n| new |\n{report.README_END}\noutro\n"
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        report.update_readme(readme, "| new |\n")


def test_costs_can_be_measured_again_without_touching_the_scores(faces, tmp_path):
    (run,) = arch.run_study(faces, tmp_path, ["baseline_cnn"], epochs=1, seconds=0.05, log=lambda _: None)
    before = json.loads((run / arch.RECORD).read_text())
    stamp = (run / "model.keras").stat().st_mtime_ns
    assert arch.remeasure_costs(tmp_path, seconds=0.05, log=lambda _: None) == [run]
    after = json.loads((run / arch.RECORD).read_text())
    assert after["accuracy"] == before["accuracy"] and after["confidence_95"] == before["confidence_95"]
    assert after["cost"]["params"] == before["cost"]["params"] and "cost_remeasured" in after
    assert (run / "model.keras").stat().st_mtime_ns == stamp
    # a fresh clone has no trained model files: the architecture is rebuilt and timed, the file size kept
    for name in ("model.keras", "final.keras", "best.keras"):
        (run / name).unlink(missing_ok=True)
    assert arch.remeasure_costs(tmp_path, seconds=0.05, log=lambda _: None) == [run]
    rebuilt = json.loads((run / arch.RECORD).read_text())
    assert rebuilt["cost"]["params"] == before["cost"]["params"]
    assert rebuilt["cost"]["flops_per_face"] == before["cost"]["flops_per_face"]
    assert rebuilt["cost"]["file_bytes"] == before["cost"]["file_bytes"] and rebuilt["cost"]["latency_batch1_ms"] > 0
    assert "rebuilt from config.json" in rebuilt["cost_remeasured"]["timed"]
    assert rebuilt["accuracy"] == before["accuracy"]
