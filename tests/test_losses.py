"""fer.losses: FocalLoss, ArcFace, CenterLoss, build_arcface_model, get_loss — math against NumPy,
serialization without custom_objects, and small training runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from fer.labels import EMOTIONS
from fer.losses import (
    ArcFace,
    CenterLoss,
    FocalLoss,
    alpha_from_class_weights,
    build_arcface_model,
    get_loss,
    to_arcface_inputs,
)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator per test, so results do not depend on which tests ran before."""
    return np.random.default_rng(0)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_focal(y, p, gamma, alpha=None, eps=0.0):
    k = y.shape[-1]
    y = y * (1 - eps) + eps / k
    a = np.ones(k) if alpha is None else np.asarray(alpha, dtype=np.float64)
    return np.mean(np.sum(-a * (1 - p) ** gamma * y * np.log(p), axis=-1))


def _tiny_backbone(shape=(8, 8, 1), dim=16, name="tiny") -> keras.Model:
    inp = keras.Input(shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name=f"{name}_rescale")(inp)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name=f"{name}_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)
    x = keras.layers.Dense(dim, name=f"{name}_embedding")(x)
    return keras.Model(inp, x, name=name)


# ------------------------------------------------------------------------------------------ FocalLoss


@pytest.mark.parametrize("gamma,alpha,eps", [(2.0, None, 0.0), (1.5, [0.5, 1.0, 2.0, 1.5], 0.0), (2.0, None, 0.2),
                                             (0.5, [1.0, 0.2, 3.0, 1.0], 0.1)])
def test_focal_loss_matches_numpy(gamma, alpha, eps, rng):
    logits = rng.normal(size=(6, 4)).astype("float32") * 2
    y = np.eye(4, dtype="float32")[rng.integers(0, 4, 6)]
    p = _softmax(logits.astype(np.float64))
    expected = _np_focal(y, p, gamma, alpha, eps)
    got_logits = float(FocalLoss(gamma, alpha, from_logits=True, label_smoothing=eps)(y, logits))
    got_probs = float(FocalLoss(gamma, alpha, from_logits=False, label_smoothing=eps)(y, p.astype("float32")))
    np.testing.assert_allclose(got_logits, expected, rtol=1e-5)
    np.testing.assert_allclose(got_probs, expected, rtol=1e-5)


def test_focal_down_weights_easy_examples():
    y = np.array([[1.0, 0.0], [1.0, 0.0]], "float32")
    p = np.array([[0.95, 0.05], [0.3, 0.7]], "float32")
    per_sample = FocalLoss(2.0, reduction=None)(y, p).numpy()
    ce = -np.log([0.95, 0.3])
    np.testing.assert_allclose(per_sample, ce * np.array([0.05, 0.7]) ** 2, rtol=1e-5)
    assert per_sample[0] / ce[0] < per_sample[1] / ce[1]


@pytest.mark.parametrize("from_logits,eps", [(True, 0.0), (False, 0.0), (True, 0.1), (False, 0.15)])
def test_focal_gamma0_is_categorical_crossentropy(from_logits, eps, rng):
    logits = rng.normal(size=(8, 7)).astype("float32")
    y_pred = logits if from_logits else _softmax(logits).astype("float32")
    y = np.eye(7, dtype="float32")[rng.integers(0, 7, 8)]
    cce = keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=eps)
    focal = FocalLoss(gamma=0.0, alpha=None, from_logits=from_logits, label_smoothing=eps)
    np.testing.assert_allclose(float(focal(y, y_pred)), float(cce(y, y_pred)), rtol=1e-5)


def test_focal_accepts_integer_labels_and_class_weight_dict(rng):
    logits = rng.normal(size=(5, 3)).astype("float32")
    ids = np.array([0, 2, 1, 1, 0])
    alpha = {0: 1.0, 1: 2.0, 2: 3.0}
    a = FocalLoss(alpha=alpha, from_logits=True)
    assert a.alpha == pytest.approx([0.5, 1.0, 1.5])
    np.testing.assert_allclose(float(a(ids, logits)), float(a(np.eye(3)[ids], logits)), rtol=1e-6)
    with pytest.raises(ValueError, match="alpha has 2 values"):
        FocalLoss(alpha=[1.0, 1.0], from_logits=True)(np.eye(3)[ids], logits)


def test_alpha_from_class_weights():
    assert alpha_from_class_weights({0: 1.0, 1: 3.0}) == pytest.approx([0.5, 1.5])
    assert alpha_from_class_weights({1: 3.0, 0: 1.0}, normalize=False) == [1.0, 3.0]
    by_name = {name: float(i + 1) for i, name in enumerate(EMOTIONS)}
    by_name["Anger"] = by_name.pop("angry")  # dataset alias resolves to the canonical class
    assert alpha_from_class_weights(by_name, normalize=False) == [float(i + 1) for i in range(7)]
    with pytest.raises(ValueError, match=r"missing \[1\]"):
        alpha_from_class_weights({0: 1.0, 2: 1.0})
    with pytest.raises(ValueError, match="must be positive"):
        alpha_from_class_weights({0: 1.0, 1: 0.0})


def test_get_loss():
    cce = get_loss("categorical_crossentropy", from_logits=True)
    assert isinstance(cce, keras.losses.CategoricalCrossentropy) and cce.get_config()["from_logits"]
    ls = get_loss("label_smoothing")
    assert ls.get_config()["label_smoothing"] == pytest.approx(0.1)
    assert get_loss("label_smoothing", label_smoothing=0.2).get_config()["label_smoothing"] == pytest.approx(0.2)
    focal = get_loss("focal", gamma=1.0, class_weight={0: 1.0, 1: 3.0}, label_smoothing=0.1)
    assert isinstance(focal, FocalLoss) and focal.gamma == 1.0 and focal.alpha == pytest.approx([0.5, 1.5])
    assert FocalLoss.from_config(focal.get_config()).get_config() == focal.get_config()
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        get_loss("hinge")
    with pytest.raises(ValueError, match="bad keyword"):
        get_loss("focal", gama=2)


# -------------------------------------------------------------------------------------------- ArcFace


def _np_cos(x, w):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    wn = w / np.linalg.norm(w, axis=0, keepdims=True)
    return xn @ wn


def test_arcface_true_class_logit_is_s_cos_theta_plus_m(rng):
    s, m, k = 30.0, 0.5, 5
    layer = ArcFace(k, s=s, m=m)
    x = rng.normal(size=(6, 8)).astype("float32")
    y_ids = rng.integers(0, k, 6)
    y = np.eye(k, dtype="float32")[y_ids]
    out = layer([x, y], training=True).numpy()
    cos = _np_cos(x, layer.kernel.numpy())
    theta = np.arccos(cos)
    assert np.all(theta + m < math.pi)  # random 8-D vectors: the plain branch
    expected = s * cos
    expected[np.arange(6), y_ids] = s * np.cos(theta[np.arange(6), y_ids] + m)
    np.testing.assert_allclose(out, expected, atol=1e-3)
    # integer ids give the same logits; no labels / training=False give s * cos(theta)
    np.testing.assert_allclose(layer([x, y_ids], training=True).numpy(), out, atol=1e-5)
    np.testing.assert_allclose(layer(x).numpy(), s * cos, atol=1e-4)
    np.testing.assert_allclose(layer([x, y], training=False).numpy(), s * cos, atol=1e-4)


def test_arcface_threshold_and_easy_margin_branches():
    s, m = 10.0, 0.5
    # true-class centre at angle 0.1 (plain), 2.9 > pi - m (fallback) and 1.8 (cos < 0, margin still applies)
    angles = np.array([0.1, 2.9, 1.8])
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype("float32")
    w = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")  # class 0 centre along +x
    y = np.array([[1.0, 0.0]] * 3, "float32")
    cos = np.cos(angles)

    layer = ArcFace(2, s=s, m=m)
    layer.build((None, 2))
    layer.kernel.assign(w)
    out = layer([x, y], training=True).numpy()[:, 0]
    th, mm = math.cos(math.pi - m), math.sin(math.pi - m) * m
    assert cos[1] <= th < cos[2]
    expected = s * np.array([np.cos(0.1 + m), cos[1] - mm, np.cos(1.8 + m)])
    np.testing.assert_allclose(out, expected, atol=1e-4)
    assert out[1] != pytest.approx(s * np.cos(2.9 + m), abs=1e-2)  # the fallback really differs

    easy = ArcFace(2, s=s, m=m, easy_margin=True)
    easy.build((None, 2))
    easy.kernel.assign(w)
    out = easy([x, y], training=True).numpy()[:, 0]
    np.testing.assert_allclose(out, s * np.array([np.cos(0.1 + m), cos[1], cos[2]]), atol=1e-4)


def test_arcface_rejects_bad_arguments():
    with pytest.raises(ValueError, match="margin m"):
        ArcFace(3, m=2.0)
    with pytest.raises(ValueError, match="2-D embedding"):
        ArcFace(3)(np.zeros((2, 4, 4), "float32"))
    with pytest.raises(ValueError, match="num_classes=3"):
        ArcFace(3)([np.ones((2, 4), "float32"), np.ones((2, 5), "float32")], training=True)


# ----------------------------------------------------------------------------------------- CenterLoss


def test_center_loss_value_and_update_match_numpy(rng):
    k, dim, lam, alpha = 4, 3, 0.3, 0.5
    layer = CenterLoss(k, weight=lam, alpha=alpha)
    x = rng.normal(size=(7, dim)).astype("float32")
    ids = np.array([0, 0, 1, 2, 0, 1, 2])  # class 3 absent from the batch
    y = np.eye(k, dtype="float32")[ids]
    layer.build([(None, dim), (None, k)])
    c0 = rng.normal(size=(k, dim)).astype("float32")
    layer.centers.assign(c0)

    out = layer([x, y], training=True)
    np.testing.assert_array_equal(out.numpy(), x)  # pass-through
    expected_loss = lam * 0.5 * np.mean(np.sum((x - c0[ids]) ** 2, axis=1))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), expected_loss, rtol=1e-5)

    expected_c = c0.copy()
    for j in range(k):
        sel = ids == j
        delta = np.sum(c0[j] - x[sel], axis=0) / (1 + sel.sum())
        expected_c[j] = c0[j] - alpha * delta
    np.testing.assert_allclose(layer.centers.numpy(), expected_c, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer.centers.numpy()[3], c0[3])

    # no update outside training; integer labels work as well
    before = layer.centers.numpy().copy()
    layer([x, ids], training=False)
    np.testing.assert_array_equal(layer.centers.numpy(), before)


def test_center_loss_decreases_and_centers_track_class_means():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    means = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    ids = np.repeat(np.arange(3), 32)
    x = (means[ids] + 0.6 * rng.normal(size=(96, 2))).astype("float32")
    y = np.eye(3, dtype="float32")[ids]

    inp, lab = keras.Input((2,), name="x"), keras.Input((3,), name="label")
    emb = keras.layers.Dense(2, name="embedding")(inp)
    feat = CenterLoss(3, weight=0.5, alpha=0.5, name="center_loss")([emb, lab])
    out = keras.layers.Dense(3, activation="softmax", name="predictions")(feat)
    model = keras.Model([inp, lab], out)
    model.compile(keras.optimizers.SGD(0.05), "categorical_crossentropy")
    embed = keras.Model(inp, emb)
    centers = model.get_layer("center_loss").centers

    def center_loss_value():
        e = embed.predict(x, verbose=0)
        return 0.5 * np.mean(np.sum((e - centers.numpy()[ids]) ** 2, axis=1))

    def center_to_mean_distance():
        e = embed.predict(x, verbose=0)
        class_means = np.stack([e[ids == j].mean(0) for j in range(3)])
        return np.linalg.norm(centers.numpy() - class_means, axis=1).max(), class_means

    start_loss, (start_dist, _) = center_loss_value(), center_to_mean_distance()
    order = np.concatenate([rng.permutation(len(x)) for _ in range(100)])  # 100 shuffled epochs, one fit call
    model.fit([x[order], y[order]], y[order], batch_size=32, epochs=1, shuffle=False, verbose=0)  # 300 SGD steps
    end_loss, (end_dist, class_means) = center_loss_value(), center_to_mean_distance()

    print(f"center loss {start_loss:.4f} -> {end_loss:.4f}; centre-mean distance {start_dist:.4f} -> {end_dist:.5f}")
    assert end_loss < 0.5 * start_loss
    assert end_dist < 0.1 * start_dist
    spread = np.linalg.norm(class_means[:, None] - class_means[None], axis=-1).max()
    assert end_dist < 0.05 * spread


# ------------------------------------------------------------------------------------ arcface models


def _toy_images(n_per_class=24, seed=0):
    """3 texture classes on noisy 8x8 images: horizontal stripes, vertical stripes, a checkerboard."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(3), n_per_class)
    r, c = np.mgrid[0:8, 0:8]
    patterns = np.stack([r % 2, c % 2, (r + c) % 2]).astype("float32")[..., None] * 150
    x = rng.uniform(0, 100, size=(len(ids), 8, 8, 1)).astype("float32") + patterns[ids]
    return x, ids


def test_arcface_model_trains_and_predict_model_shares_weights():
    keras.utils.set_random_seed(0)
    k = 3
    x, ids = _toy_images()
    y = np.eye(k, dtype="float32")[ids]
    train_model, predict_model = build_arcface_model(_tiny_backbone(), k, s=10.0, m=0.3)
    assert [t.name for t in predict_model.inputs] == ["image"]
    assert predict_model.layers[-1].name == "predictions"
    assert predict_model.get_layer("arcface") is train_model.get_layer("arcface")
    train_model.compile(keras.optimizers.Adam(0.03), keras.losses.CategoricalCrossentropy(from_logits=True))
    history = train_model.fit({"image": x, "label": y}, y, batch_size=24, epochs=15, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert np.abs(train_model.get_layer("center_loss").centers.numpy()).sum() > 0

    probs = predict_model.predict(x, verbose=0)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert (probs.argmax(1) == ids).mean() > 1.0 / k + 0.3
    # inference output is softmax(s * cos theta) of the shared ArcFace weights
    emb = keras.Model(predict_model.input, predict_model.get_layer("tiny_embedding").output).predict(x, verbose=0)
    cos = _np_cos(emb, train_model.get_layer("arcface").kernel.numpy())
    np.testing.assert_allclose(probs, _softmax(10.0 * cos), atol=1e-4)
    # the tf.data adaptor gives the train model's input structure
    inputs, target = to_arcface_inputs(x, y)
    assert inputs["image"] is x and inputs["label"] is y and target is y


def test_build_arcface_model_without_center_loss_and_bad_backbone():
    train_model, _ = build_arcface_model(_tiny_backbone(name="b1"), 4, center_loss_weight=0.0)
    assert not any(isinstance(layer, CenterLoss) for layer in train_model.layers)
    inp = keras.Input((8, 8, 1), name="image")
    fmap = keras.Model(inp, keras.layers.Conv2D(2, 3)(inp))
    with pytest.raises(ValueError, match="2-D embedding"):
        build_arcface_model(fmap, 3)


def test_arcface_model_under_mixed_precision():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        x, ids = _toy_images(n_per_class=4)
        y = np.eye(3, dtype="float32")[ids]
        train_model, predict_model = build_arcface_model(_tiny_backbone(name="mp"), 3)
        assert train_model.get_layer("mp_embedding").compute_dtype == "float16"
        centers_layer = train_model.get_layer("center_loss")
        assert centers_layer.compute_dtype == "float32" and centers_layer.centers.dtype == "float32"
        train_model.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True))
        loss = train_model.fit({"image": x, "label": y}, y, epochs=1, verbose=0).history["loss"][0]
        assert np.isfinite(loss) and np.abs(centers_layer.centers.numpy()).sum() > 0
        probs = predict_model.predict(x, verbose=0)
        assert probs.dtype == np.float32 and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    finally:
        keras.mixed_precision.set_global_policy(previous)


_RELOAD_SCRIPT = textwrap.dedent("""
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np, keras
    import fer.losses  # registers the fer> objects; no custom_objects below
    d = sys.argv[1]
    x = np.load(os.path.join(d, "x.npy")); y = np.load(os.path.join(d, "y.npy"))
    train = keras.models.load_model(os.path.join(d, "train.keras"))
    pred = keras.models.load_model(os.path.join(d, "predict.keras"))
    np.save(os.path.join(d, "train_out.npy"), train.predict({"image": x, "label": y}, verbose=0))
    np.save(os.path.join(d, "pred_out.npy"), pred.predict(x, verbose=0))
    np.save(os.path.join(d, "centers.npy"), train.get_layer("center_loss").centers.numpy())
    json.dump({"loss": type(train.loss).__name__, "config": train.loss.get_config()},
              open(os.path.join(d, "info.json"), "w"))
""")


def test_models_save_and_reload_without_custom_objects(tmp_path):
    keras.utils.set_random_seed(2)
    k = 3
    x, ids = _toy_images(n_per_class=4)
    y = np.eye(k, dtype="float32")[ids]
    train_model, predict_model = build_arcface_model(_tiny_backbone(name="sv"), k)
    focal = FocalLoss(gamma=2.0, alpha=[1.0, 2.0, 0.5], from_logits=True, label_smoothing=0.1)
    train_model.compile("adam", focal)
    train_model.fit({"image": x, "label": y}, y, epochs=1, verbose=0)  # centres move away from zero
    train_model.save(tmp_path / "train.keras")
    predict_model.save(tmp_path / "predict.keras")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)

    train_out = train_model.predict({"image": x, "label": y}, verbose=0)
    pred_out = predict_model.predict(x, verbose=0)
    centers = train_model.get_layer("center_loss").centers.numpy()
    assert np.abs(centers).sum() > 0

    # same process
    again = keras.models.load_model(tmp_path / "predict.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), pred_out, atol=1e-6)

    # fresh interpreter: only `import fer.losses`, no custom_objects
    subprocess.run([sys.executable, "-c", _RELOAD_SCRIPT, str(tmp_path)], check=True, timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "train_out.npy"), train_out, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "pred_out.npy"), pred_out, atol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "centers.npy"), centers, atol=0)
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["loss"] == "FocalLoss"
    assert info["config"]["alpha"] == pytest.approx([1.0, 2.0, 0.5])
    assert info["config"]["gamma"] == 2.0 and info["config"]["label_smoothing"] == pytest.approx(0.1)


def test_arcface_on_mobilenet_cbam_embedding():
    models = pytest.importorskip("fer.models")
    if not hasattr(models, "build_mobilenet_cbam"):
        pytest.skip("fer.models.build_mobilenet_cbam is not available yet")
    backbone = models.build_mobilenet_cbam((48, 48, 1), 7, embedding=True)
    train_model, predict_model = build_arcface_model(backbone, 7)
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 48, 48, 1)).astype("float32")
    y = np.eye(7, dtype="float32")[[0, 3]]
    logits = train_model({"image": x, "label": y}, training=False).numpy()
    probs = predict_model.predict(x, verbose=0)
    assert logits.shape == probs.shape == (2, 7)
    np.testing.assert_allclose(probs, _softmax(logits.astype(np.float64)), atol=1e-5)
    assert predict_model.layers[-1].name == "predictions" and train_model.get_layer("center_loss") is not None
