"""Knowledge distillation: softened teacher targets blended with the labels, on the student's own batches."""

import json

import keras
import numpy as np
import pytest

import fer.models
from fer.class_names import attach_class_names
from fer.data import make_synthetic
from fer.data.pipeline import FERSequence
from fer.distill import DistillBatches, distill_targets, soften
from fer.labels import EMOTIONS
from fer.preprocess import fit_to_model
from fer.train import TrainConfig, train


def test_soften_flattens_with_temperature_and_keeps_the_order():
    p = np.array([[0.7, 0.2, 0.1]])
    assert np.allclose(soften(p, 1.0), p)
    hot, warm = soften(p, 1.0), soften(p, 4.0)
    entropy = [-(q * np.log(q)).sum() for q in (hot, warm)]
    assert entropy[1] > entropy[0] and np.argsort(warm[0]).tolist() == np.argsort(p[0]).tolist()
    assert np.allclose(warm.sum(), 1.0)
    with pytest.raises(ValueError, match="positive"):
        soften(p, 0.0)


def test_targets_blend_labels_and_teacher():
    labels, teacher = np.array([[1.0, 0.0]]), np.array([[0.2, 0.8]])
    assert np.allclose(distill_targets(labels, teacher, 0.0, 2.0), labels)
    assert np.allclose(distill_targets(labels, teacher, 1.0, 1.0), teacher)
    assert np.allclose(distill_targets(labels, teacher, 0.5, 1.0), [[0.6, 0.4]])
    with pytest.raises(ValueError, match="alpha"):
        distill_targets(labels, teacher, 1.5, 1.0)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = fer.models.build("simple_cnn", (32, 32, 3))
    attach_class_names(model, EMOTIONS)
    path = tmp_path_factory.mktemp("teacher") / "teacher.keras"
    model.save(path)
    return model, path


def test_batches_carry_the_teachers_view_of_the_same_augmented_faces(teacher):
    model, _ = teacher
    ds = make_synthetic(n_per_class=4, seed=0)
    seq = FERSequence(ds, "train", (48, 48, 1), 8, augment=True, seed=0)
    images, labels = seq[0]
    wrapped = DistillBatches(FERSequence(ds, "train", (48, 48, 1), 8, augment=True, seed=0), model, 0.7, 2.0)
    same_images, targets = wrapped[0]
    assert np.array_equal(same_images, images)
    expected = distill_targets(labels, model.predict(fit_to_model(images, (32, 32, 3)), verbose=0), 0.7, 2.0)
    assert np.allclose(targets, expected, atol=1e-5) and np.allclose(targets.sum(axis=1), 1.0, atol=1e-5)
    three = fer.models.build("baseline_cnn", num_classes=3)
    with pytest.raises(ValueError, match="3 classes"):
        DistillBatches(seq, three)


def test_a_student_trains_from_a_teacher_file_and_records_its_hash(teacher, tmp_path):
    _, path = teacher
    cfg = TrainConfig(model="baseline_cnn", epochs=1, batch_size=16, early_stopping=0, distill_from=str(path),
                      distill_alpha=0.8, distill_temperature=3.0)
    run = train(make_synthetic(n_per_class=5, seed=0), cfg, tmp_path / "student", verbose=0)
    config = json.loads((tmp_path / "student" / "config.json").read_text())
    from fer.provenance import file_sha256

    assert config["distill_from_sha256"] == [file_sha256(path)] and config["distill_alpha"] == 0.8
    assert np.isfinite(run.history["loss"]).all()


def test_cached_teacher_answers_once_per_face_and_its_mirror(teacher, tmp_path, monkeypatch):
    import fer.distill

    model, path = teacher
    faces = make_synthetic(n_per_class=3, seed=1).images
    cache = tmp_path / "teacher.npz"
    p = fer.distill.cached_teacher_predictions(str(path), faces, cache)
    x = fit_to_model(faces, (32, 32, 3))
    expected = (model.predict(x, verbose=0) + model.predict(x[:, :, ::-1], verbose=0)) / 2
    assert p.shape == (len(faces), 7) and np.allclose(p, expected, atol=1e-5)

    calls = []
    monkeypatch.setattr(fer.distill, "teacher_predictions", lambda *a, **k: calls.append(1) or expected)
    assert np.array_equal(fer.distill.cached_teacher_predictions(str(path), faces, cache), p) and not calls
    fer.distill.cached_teacher_predictions(str(path), faces[:-1], cache)  # other faces: asked again
    assert calls == [1]


def test_a_cached_student_trains_on_the_teachers_answers_blended_into_its_targets(teacher, tmp_path):
    from fer.training.config import check_config
    from fer.training.run import plan_run
    from fer.training.stages import prepare_run

    _, path = teacher
    ds = make_synthetic(n_per_class=5, seed=0)
    cfg = TrainConfig(model="baseline_cnn", epochs=1, batch_size=16, early_stopping=0, distill_from=str(path),
                      distill_alpha=1.0, distill_temperature=1.0, distill_cache=True, label_smoothing=0.0)
    check_config(cfg)
    t = prepare_run(plan_run(ds, cfg, tmp_path / "plan"), tmp_path / "plan")
    with np.load(tmp_path / "plan" / "teacher.npz") as stored:
        answers = stored["probabilities"]
    assert answers.shape == (len(ds.subset("train")), 7)
    assert np.allclose(t.train_seq.y, answers, atol=1e-6)  # alpha 1, T 1: the targets are the teacher's answers
    with pytest.raises(Exception, match="mixup"):
        train(ds, TrainConfig(model="baseline_cnn", epochs=1, distill_from=str(path), distill_cache=True,
                              mixup_alpha=0.2), tmp_path / "mixed", verbose=0)


def test_a_recipes_teacher_named_relative_to_the_repository_is_found_from_any_folder(tmp_path, monkeypatch):
    from fer.training.config import check_config
    from fer.training.run import plan_run
    from fer.training.stages import prepare_run

    monkeypatch.chdir(tmp_path)  # as a notebook in notebooks/ runs: models/... is not below the working folder
    ds = make_synthetic(n_per_class=2, seed=0)
    cfg = TrainConfig(model="baseline_cnn", epochs=1, batch_size=8, early_stopping=0,
                      distill_from="models/fer2013_default.keras", distill_alpha=1.0, distill_temperature=1.0,
                      distill_cache=True, label_smoothing=0.0)
    check_config(cfg)
    t = prepare_run(plan_run(ds, cfg, tmp_path / "run"), tmp_path / "run")
    assert t.train_seq.y.shape == (len(ds.subset("train")), 7) and np.allclose(t.train_seq.y.sum(axis=1), 1.0)
