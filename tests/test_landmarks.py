"""fer.landmarks: FaceMesh extraction and cache, normalisation, mirror, graphs, landmark datasets, prediction."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from fer.landmarks import facemesh as fm
from fer.landmarks.data import FALLBACK, LandmarkDataset, landmark_dataset, landmark_predict_fn, prepare_landmark_inputs
from fer.landmarks.geometry import (
    LEFT_EYE,
    RIGHT_EYE,
    augment_landmarks,
    mean_face,
    mirror_landmarks,
    mirror_permutation,
    normalize_landmarks,
)
from fer.landmarks.graph import dense_adjacency, edge_set, isolated_nodes

HOPPER_BOX = (153, 104, 228, 228)  # Haar box of the face in fer/assets/grace_hopper.jpg (x, y, w, h)


@pytest.fixture(scope="module")
def mesh():
    m = fm.FaceMesh(workers=1, num_threads=1)
    yield m
    m.close()


@pytest.fixture(scope="module")
def hopper48() -> np.ndarray:
    """The shipped portrait's face as a 48x48 gray FER2013-style crop, ``1 x 48 x 48 x 1``."""
    img = cv2.imread(str(fm.ASSETS / "grace_hopper.jpg"))
    x, y, w, h = HOPPER_BOX
    face = cv2.cvtColor(img[y:y + h, x:x + w], cv2.COLOR_BGR2GRAY)
    return cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA)[None, ..., None]


def _similarity(points: np.ndarray, angle_deg: float, scale: float, shift) -> np.ndarray:
    t = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    out = points.copy()
    out[..., :2] = points[..., :2] @ rot.T * scale + np.asarray(shift)
    out[..., 2] = points[..., 2] * scale
    return out


# --------------------------------------------------------------------------- the model file


def test_shipped_model_verifies_and_a_corrupt_or_missing_copy_is_refused(tmp_path):
    assert fm.verify_model() == fm.MODEL_PATH
    bad = tmp_path / "face_landmark.tflite"
    shutil.copyfile(fm.MODEL_PATH, bad)
    with open(bad, "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(ValueError, match="corrupt"):
        fm.FaceMesh(bad)
    with pytest.raises(FileNotFoundError, match="missing"):
        fm.FaceMesh(tmp_path / "nothing.tflite")


# --------------------------------------------------------------------------- extraction


def test_facemesh_finds_a_real_face_and_not_a_blank_one(mesh, hopper48):
    blank = np.full((1, 48, 48, 1), 128, np.uint8)
    points, presence = mesh(np.concatenate([hopper48, blank]))
    assert points.shape == (2, 468, 3) and points.dtype == np.float32
    assert presence[0] > 0.9 and presence[1] < fm.PRESENCE_THRESHOLD
    face = points[0]
    # face pixels of the 48x48 crop; the subject's right eye (33) is on the image's left
    assert np.all((face[:, :2] > -6) & (face[:, :2] < 54))
    assert face[33, 0] < face[1, 0] < face[263, 0]
    assert face[RIGHT_EYE, 1].mean() < face[1, 1] < face[13, 1]  # eyes above the nose tip above the mouth


def test_parallel_workers_and_batching_give_the_same_points(hopper48):
    faces = np.repeat(hopper48, 11, axis=0)
    faces[5] = faces[5][:, ::-1]
    one = fm.FaceMesh(workers=1, batch_size=1)
    many = fm.FaceMesh(workers=2, batch_size=4)
    try:
        a, pa = one(faces)
        b, pb = many(faces)
    finally:
        one.close()
        many.close()
    np.testing.assert_allclose(a, b, atol=1e-3)
    np.testing.assert_allclose(pa, pb, atol=1e-5)
    assert not np.allclose(a[5], a[4], atol=0.5)  # the mirrored face really is another input


def test_margin_maps_points_back_to_face_pixels(mesh, hopper48):
    """The same face with and without an extra border gives the same points in its own pixel frame."""
    padded = cv2.copyMakeBorder(hopper48[0], 8, 8, 8, 8, cv2.BORDER_REPLICATE)[None, ..., None]
    a, _ = mesh(hopper48, margin=0.25)
    b, _ = mesh(padded, margin=0.0)  # 8 px of 64 ≈ the 12 px of 96 that margin=0.25 adds
    b[..., :2] -= 8
    assert np.abs(a[0, :, :2] - b[0, :, :2]).mean() < 1.0


class _CountingMesh:
    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __call__(self, faces, margin):
        self.calls += 1
        return self.inner(faces, margin)

    def close(self):
        pass


def test_extraction_is_cached_reused_and_keyed_by_the_faces(tmp_path, mesh, hopper48):
    faces = np.concatenate([hopper48, hopper48[:, :, ::-1], np.full((1, 48, 48, 1), 90, np.uint8)])
    counting = _CountingMesh(mesh)
    first = fm.extract_landmarks(faces, cache_dir=tmp_path, mesh=counting, progress=False)
    assert counting.calls == 1 and len(list(tmp_path.glob("landmarks-*.npz"))) == 1
    again = fm.extract_landmarks(faces, cache_dir=tmp_path, mesh=counting, progress=False)
    assert counting.calls == 1  # read from the cache
    np.testing.assert_array_equal(first.points, again.points)
    np.testing.assert_array_equal(first.failed, [False, False, True])
    part = fm.extract_landmarks(faces[[2, 0]], cache_dir=tmp_path, mesh=counting, progress=False)
    assert counting.calls == 1  # a subset comes from the entry holding all faces
    np.testing.assert_array_equal(part.points, first.points[[2, 0]])
    changed = faces.copy()
    changed[0, 0, 0, 0] ^= 1
    fm.extract_landmarks(changed, cache_dir=tmp_path, mesh=counting, progress=False)
    assert counting.calls == 2 and len(list(tmp_path.glob("landmarks-*.npz"))) == 2
    other = fm.extract_landmarks(faces, cache_dir=tmp_path, mesh=counting, progress=False, margin=0.1)
    assert counting.calls == 3 and not np.allclose(other.points, first.points)  # settings are in the key


# --------------------------------------------------------------------------- geometry


def test_normalisation_removes_position_scale_and_roll():
    face = mean_face() * 17.0 + np.array([24.0, 25.0, 0.0], np.float32)
    moved = _similarity(face, 23.0, 0.6, (5.0, -9.0))
    a, b = normalize_landmarks(face), normalize_landmarks(moved)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert np.abs(a.mean(axis=0)).max() < 1e-5
    assert np.sqrt((a[:, :2] ** 2).sum(axis=1).mean()) == pytest.approx(1.0, abs=1e-5)
    right, left = a[list(RIGHT_EYE)].mean(0), a[list(LEFT_EYE)].mean(0)
    assert left[0] > right[0] and abs(left[1] - right[1]) < 1e-5
    upside_down = normalize_landmarks(_similarity(face, 180.0, 1.0, (0, 0)))
    np.testing.assert_allclose(upside_down, a, atol=1e-4)  # the eye line fixes the roll, whatever it was
    flat = normalize_landmarks(moved[None], keep_z=False)
    assert flat.shape == (1, 468, 2)
    np.testing.assert_allclose(flat[0], a[:, :2], atol=1e-5)


def test_mirror_is_an_involution_and_matches_the_mirrored_image(mesh, hopper48):
    perm = mirror_permutation()
    assert sorted(perm.tolist()) == list(range(468))
    np.testing.assert_array_equal(perm[perm], np.arange(468))
    assert perm[33] == 263 and perm[61] == 291 and perm[1] == 1
    face = normalize_landmarks(mesh(hopper48)[0][0])
    np.testing.assert_allclose(mirror_landmarks(mirror_landmarks(face)), face, atol=1e-6)
    flipped = normalize_landmarks(mesh(hopper48[:, :, ::-1])[0][0])
    diff = np.abs(mirror_landmarks(face) - flipped)[:, :2]
    assert diff.mean() < 0.05  # FaceMesh on the mirrored image ≈ mirrored landmarks
    naive = face.copy()
    naive[:, 0] *= -1  # negating x without swapping the left / right points is far off
    assert np.abs(naive - flipped)[:, :2].mean() > 5 * diff.mean()


def test_augmentation_is_seeded_and_identity_without_ranges():
    pts = np.stack([mean_face()] * 6)
    a = augment_landmarks(pts, np.random.default_rng(1))
    b = augment_landmarks(pts, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, pts)
    same = augment_landmarks(pts, np.random.default_rng(1), rotation=0, zoom=0, flip=False)
    np.testing.assert_allclose(same, pts, atol=1e-6)
    turned = augment_landmarks(pts, np.random.default_rng(2), rotation=10, zoom=0, flip=False)
    radius = np.sqrt((turned[..., :2] ** 2).sum(-1))
    np.testing.assert_allclose(radius, np.sqrt((pts[..., :2] ** 2).sum(-1)), atol=1e-5)  # rotation keeps radii


# --------------------------------------------------------------------------- graphs


def test_graphs_have_the_source_edge_counts_and_isolated_nodes():
    assert len(edge_set("anatomical", 468)) == 149
    assert len(edge_set("anatomical", 478)) == 157
    assert len(isolated_nodes("anatomical", 478)) == 318
    assert len(edge_set("mesh")) == 1322 and len(isolated_nodes("mesh")) == 0
    with pytest.raises(ValueError, match="graph must be"):
        edge_set("tesselation")


def test_normalised_adjacency_is_symmetric_with_unit_self_loops_on_isolated_nodes():
    for graph in ("anatomical", "mesh"):
        a = dense_adjacency(graph)
        np.testing.assert_allclose(a, a.T, atol=1e-7)
        assert np.linalg.eigvalsh(a.astype(np.float64)).max() == pytest.approx(1.0, abs=1e-5)
    a = dense_adjacency("anatomical")
    lone = isolated_nodes("anatomical")
    np.testing.assert_array_equal(a[lone][:, lone], np.eye(len(lone)))
    assert a[lone].sum() == len(lone)


# --------------------------------------------------------------------------- datasets


def _faces_dataset(hopper48):
    from fer.data import Dataset

    blank = np.full((1, 48, 48, 1), 128, np.uint8)
    images = np.concatenate([hopper48, hopper48[:, :, ::-1], blank, hopper48, blank])
    n = len(images)
    return Dataset(images, np.array([3, 3, 0, 4, 6]), np.array(["train", "train", "train", "val", "val"]),
                   np.array(["t"] * n), np.arange(n), meta={"name": "tiny"})


def test_landmark_dataset_keeps_every_face_and_gives_failures_the_mean_face(tmp_path, monkeypatch, hopper48):
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path))
    ds = _faces_dataset(hopper48)
    lds = landmark_dataset(ds, progress=False)
    assert isinstance(lds, LandmarkDataset) and len(lds) == len(ds) and lds.images.shape == (5, 468, 3)
    np.testing.assert_array_equal(lds.failed, [False, False, True, False, True])
    np.testing.assert_array_equal(lds.images[2], mean_face())
    assert not np.allclose(lds.images[0], mean_face())
    assert lds.meta["landmarks"]["failed"] == {"train": 1, "val": 1}
    assert lds.meta["landmarks"]["fallback"] == FALLBACK
    val = lds.subset("val")  # subsets stay LandmarkDatasets with their presence
    assert isinstance(val, LandmarkDataset) and val.failed.tolist() == [False, True]
    flat = landmark_dataset(ds, keep_z=False, keep_faces=True, progress=False)
    assert flat.images.shape == (5, 468, 2) and flat.faces is ds.images


def test_fersequence_makes_landmark_and_fusion_batches(tmp_path, monkeypatch, hopper48):
    from fer.data.pipeline import Augment, FERSequence
    from fer.train import TrainConfig

    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path))
    ds = _faces_dataset(hopper48)
    lds, cfg = prepare_landmark_inputs(ds, TrainConfig(model="landmark_mlp"))
    assert cfg.augment["flip"] and cfg.augment["brightness"] == 0.0
    plain = FERSequence(lds, "train", (468, 3), 3, shuffle=False)[0][0]
    np.testing.assert_array_equal(plain, lds.images[:3])
    aug = FERSequence(lds, "train", (468, 3), 3, augment=Augment(**cfg.augment), shuffle=False, seed=3)[0][0]
    assert aug.shape == (3, 468, 3) and not np.allclose(aug, plain)
    fds, _ = prepare_landmark_inputs(ds, TrainConfig(model="fer_landmark_fusion"))
    x, y = FERSequence(fds, "train", (48, 48, 1), 2, shuffle=False)[0]
    assert set(x) == {"image", "landmarks"} and x["image"].shape == (2, 48, 48, 1) and y.shape == (2, 7)
    np.testing.assert_array_equal(x["image"], ds.images[:2].astype(np.float32))
    only_points = FERSequence(fds, "train", (468, 3), 2, shuffle=False)[0][0]  # faces kept, landmark model
    np.testing.assert_array_equal(only_points, lds.images[:2])
    unchanged, same_cfg = prepare_landmark_inputs(ds, TrainConfig(model="baseline_cnn"))
    assert unchanged is ds and same_cfg.augment is True
    with pytest.raises(ValueError, match="two inputs"):
        prepare_landmark_inputs(ds, TrainConfig(model="fer_landmark_fusion", mixup_alpha=0.2))


def test_train_and_evaluate_a_landmark_model_count_mesh_failures(tmp_path, monkeypatch, hopper48):
    from fer.evaluate import evaluate, load_model
    from fer.train import train

    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    ds = _faces_dataset(hopper48)
    run = train(ds, None, tmp_path / "run", model="landmark_mlp", epochs=1, batch_size=4, verbose=0)
    m = run.metrics["val"]
    assert m["num_samples"] == 2 and m["mesh_failures"] == 1 and m["mesh_fallback"] == FALLBACK
    model = load_model(tmp_path / "run" / "model.keras")
    again = evaluate(model, ds, split="val")  # an image dataset: landmarks extracted (from the cache) on the way
    assert again["confusion_matrix"] == m["confusion_matrix"] and again["mesh_failures"] == 1
    with pytest.raises(ValueError, match="use --tta flip or none"):
        evaluate(model, ds, split="val", tta="crops")
    flipped = evaluate(model, ds, split="val", tta="flip")
    assert flipped["tta"] == "flip" and flipped["num_samples"] == 2
    from fer.landmarks.data import predict_landmark_proba

    lds = landmark_dataset(ds, progress=False).subset("val")
    plain = predict_landmark_proba(model, lds)
    mirrored = predict_landmark_proba(model, LandmarkDataset(mirror_landmarks(lds.images), lds.labels, lds.split,
                                                             lds.source, lds.origin))
    np.testing.assert_allclose(predict_landmark_proba(model, lds, tta=True), (plain + mirrored) / 2, atol=1e-6)


# --------------------------------------------------------------------------- predict function


def test_landmark_predict_fn_runs_facemesh_itself(mesh, hopper48):
    import fer.models

    model = fer.models.build("landmark_mlp")
    predict = landmark_predict_fn(model, mesh=mesh)
    faces = np.concatenate([hopper48, np.full((1, 48, 48, 1), 128, np.uint8)])
    probs = predict(faces)
    assert probs.shape == (2, 7) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert predict.failed.tolist() == [False, True]
    expected = np.asarray(model(np.stack([normalize_landmarks(mesh(hopper48)[0][0]), mean_face()])))
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    rgb = np.repeat(hopper48, 3, axis=-1)  # RGB crops of any size work too
    np.testing.assert_allclose(predict(cv2.resize(rgb[0], (96, 96))[None]), probs[:1], atol=0.05)
    fusion = fer.models.build("fer_landmark_fusion")
    assert landmark_predict_fn(fusion, mesh=mesh)(faces).shape == (2, 7)
    with pytest.raises(ValueError, match="no 'landmarks' input"):
        landmark_predict_fn(fer.models.build("baseline_cnn"))


def test_study_runs_are_parsed_and_bad_ones_refused():
    from fer.studies.landmarks import parse_run

    assert parse_run("landmark_gnn@anatomical:4") == ("landmark_gnn", {"graph": "anatomical"}, 4,
                                                       "landmark_gnn_anatomical")
    assert parse_run("landmark_gnn@anatomical:40")[3] == "landmark_gnn_anatomical_e40"  # other budget, own folder
    assert parse_run("landmark_transformer:8")[3] == "landmark_transformer_e8"
    assert parse_run("landmark_mlp:40") == ("landmark_mlp", {}, 40, "landmark_mlp")
    assert parse_run("landmark_mlp+batchnorm:40") == ("landmark_mlp", {"batchnorm": True}, 40,
                                                      "landmark_mlp_batchnorm")
    assert parse_run("landmark_gnn@mesh+readout=flatten+readout_dim=8:4") == (
        "landmark_gnn", {"graph": "mesh", "readout": "flatten", "readout_dim": 8}, 4,
        "landmark_gnn_mesh_readout_flatten_readout_dim_8")
    assert parse_run("landmark_gnn+units=64-128:2")[1] == {"units": (64, 128)}
    for bad in ("landmark_mlp", "landmark_mlp+:4", "landmark_mlp+batch-norm:4", ":4", "landmark_gnn+readout=:4",
                "landmark_gnn+readout=a/b:4", "landmark_gnn+units=64--128:4"):
        with pytest.raises(ValueError, match="model\\[@graph\\]\\[\\+flag\\|\\+option=value...\\]:epochs"):
            parse_run(bad)


def test_study_keeps_a_finished_run_of_other_settings(tmp_path):
    """A --runs entry whose folder holds a run of other settings stops the study before training: nothing lost."""
    from fer.studies.landmarks import run_study

    folder = tmp_path / "landmark_mlp_e1"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model": "landmark_mlp", "epochs": 2, "lr": 0.001}))
    (folder / "metrics_val.json").write_text("{}")
    with pytest.raises(ValueError, match="landmark_mlp_e1 holds a run with other settings.*epochs"):
        run_study("synthetic:14", tmp_path, ["landmark_mlp:1"])
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "metrics_val.json"]
    assert json.loads((folder / "config.json").read_text())["epochs"] == 2
    shutil.rmtree(folder)
    first = run_study("synthetic:14", tmp_path, ["landmark_mlp:1"])["runs"]["landmark_mlp_e1"]
    again = run_study("synthetic:14", tmp_path, ["landmark_mlp:1"])["runs"]["landmark_mlp_e1"]  # same settings: runs
    assert again["num_samples"] == first["num_samples"] > 0


def test_load_classifier_takes_face_crops_for_landmark_and_fusion_models(mesh, hopper48, tmp_path):
    """A saved landmark / fusion model behaves like any classifier: BGR crops of any size in, FaceMesh inside."""
    import json

    import fer.models
    from fer.__main__ import main
    from fer.inference import load_classifier

    photo = fm.ASSETS / "grace_hopper.jpg"
    x, y, w, h = HOPPER_BOX
    crop = cv2.imread(str(photo))[y:y + h, x:x + w]  # BGR, 228 x 228
    for name, shape in (("landmark_mlp", (48, 48, 1)), ("fer_landmark_fusion", None)):
        model = fer.models.build(name)
        path = tmp_path / f"{name}.keras"
        model.save(path)
        clf = load_classifier(path)
        assert clf.input_shape == (shape or tuple(model.get_layer("image").output.shape[1:]))
        probs = clf.predict([crop])
        assert probs.shape == (1, 7)
        # the same numbers as FaceMesh + the model on the crop the classifier prepared
        prepared = np.clip(np.rint(clf.prepare([crop])), 0, 255).astype(np.uint8)
        np.testing.assert_allclose(probs, landmark_predict_fn(model, mesh=mesh)(prepared), atol=1e-5)
        assert not clf._run.predictor.failed.any()  # a real face: the mesh found it
    # and the command line end to end: the demo photo's face classified by the landmark model
    out = tmp_path / "pred"
    assert main(["predict", str(photo), "--model", str(tmp_path / "landmark_mlp.keras"), "--out", str(out)]) == 0
    faces = json.loads((out / "predictions.json").read_text())["images"][0]["faces"]
    assert len(faces) == 1 and faces[0]["label"] in load_classifier(tmp_path / "landmark_mlp.keras").classes
