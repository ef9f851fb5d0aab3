"""Landmark models: registration, documented sizes, the layers' maths, save / reload in a fresh process."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import fer.models
from fer.landmarks.graph import dense_adjacency, isolated_nodes
from fer.landmarks.layers import ClassToken, GraphConv, LandmarkTokenizer
from tests.reload import reload_in_fresh_process

LANDMARK_NAMES = ("landmark_mlp", "landmark_transformer", "landmark_gnn")
BUILDERS = {"landmark_mlp": fer.models.build_landmark_mlp,
            "landmark_transformer": fer.models.build_landmark_transformer,
            "landmark_gnn": fer.models.build_landmark_gnn, "fer_landmark_fusion": fer.models.build_fer_landmark_fusion}


def _landmarks(n: int, seed: int = 0, points: int = 468) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, points, 3)).astype("float32")


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_registered_with_documented_size_and_softmax_output(name, documented_params):
    assert name in fer.models.available()
    expected_shape = (48, 48, 1) if name == "fer_landmark_fusion" else (468, 3)
    assert fer.models.default_shape(name) == expected_shape
    model = fer.models.build(name)
    assert model.count_params() == documented_params(BUILDERS[name])
    assert model.layers[-1].name == "predictions" and model.get_layer("logits").units == 7
    assert "landmarks" in [t.name for t in model.inputs]


@pytest.mark.parametrize("name", LANDMARK_NAMES)
def test_forward_gives_probabilities_that_depend_on_the_points(name):
    model = fer.models.build(name)
    x = _landmarks(3)
    p = np.asarray(model(x, training=False))
    assert p.shape == (3, 7) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    assert not np.allclose(p[0], p[1], atol=1e-4)
    flat = fer.models.build(name, input_shape=(468, 2))  # z dropped
    assert flat(x[..., :2], training=False).shape == (3, 7)


def test_wrong_input_shapes_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="landmark_dataset"):
        fer.models.build("landmark_mlp", input_shape=(48, 48, 1))
    with pytest.raises(ValueError, match="divisible"):
        fer.models.build("landmark_transformer", dim=100, heads=8)


@pytest.mark.parametrize("graph", ["anatomical", "mesh"])
def test_graph_conv_is_the_normalised_adjacency_product(graph):
    layer = GraphConv(5, graph=graph)
    x = _landmarks(2, seed=1)
    out = np.asarray(layer(x))
    w, b = (np.asarray(v) for v in layer.weights)
    expected = np.einsum("ij,bjf->bif", dense_adjacency(graph), x @ w) + b
    np.testing.assert_allclose(out, expected, atol=1e-4)
    with pytest.raises(ValueError, match="num_nodes"):
        GraphConv(4, graph=graph)(_landmarks(1, points=478))


def test_isolated_nodes_see_only_themselves_in_the_anatomical_graph():
    layer = GraphConv(4, graph="anatomical")
    x = _landmarks(1, seed=2)
    base = np.asarray(layer(x))
    lone = isolated_nodes("anatomical")
    poked = x.copy()
    poked[0, lone[0]] += 5.0
    changed = np.flatnonzero(np.abs(np.asarray(layer(poked)) - base).max(axis=(0, 2)) > 1e-6)
    assert changed.tolist() == [lone[0]]
    mesh = GraphConv(4, graph="mesh")
    mesh_base = np.asarray(mesh(x))
    spread = np.flatnonzero(np.abs(np.asarray(mesh(poked)) - mesh_base).max(axis=(0, 2)) > 1e-6)
    assert len(spread) > 1  # on the mesh the same point reaches its neighbours


def test_tokenizer_has_one_linear_map_per_point_and_cls_is_prepended():
    tok = LandmarkTokenizer(6)
    x = _landmarks(2, seed=3)
    out = np.asarray(tok(x))
    k, b = (np.asarray(v) for v in tok.weights)
    np.testing.assert_allclose(out[:, 10], x[:, 10] @ k[10] + b[10], atol=1e-5)
    assert not np.allclose(k[10], k[11])
    cls = ClassToken()
    with_cls = np.asarray(cls(out))
    assert with_cls.shape == (2, 469, 6)
    np.testing.assert_allclose(with_cls[:, 0], np.broadcast_to(np.asarray(cls.weights[0])[0, 0], (2, 6)))
    np.testing.assert_allclose(with_cls[:, 1:], out)


def test_transformer_classifies_the_cls_token_and_points_have_identity():
    model = fer.models.build("landmark_transformer", dim=16, depth=1, heads=2, ffn_dim=16)
    x = _landmarks(2, seed=4)
    swapped = x[:, ::-1]  # the same points in another order: the per-point tokenizer notices
    assert not np.allclose(np.asarray(model(x)), np.asarray(model(swapped)), atol=1e-5)
    assert model.get_layer("cls_output").output.shape[1] == 1


def test_saved_landmark_models_reload_in_a_fresh_process_with_the_same_outputs(tmp_path):
    cases = {"landmark_mlp": {}, "landmark_mlp_plain": {"batchnorm": False},
             "landmark_transformer": {"dim": 32, "depth": 2, "heads": 4, "ffn_dim": 32},
             "landmark_gnn": {}, "landmark_gnn_anatomical": {"graph": "anatomical"},
             "landmark_gnn_pool": {"readout": "pool"}, "fer_landmark_fusion": {}}
    landmarks = _landmarks(2, seed=5)
    images = np.random.default_rng(5).integers(0, 256, size=(2, 48, 48, 1)).astype("float32")
    models, inputs, weights = {}, {}, {}
    for case, options in cases.items():
        name = next(n for n in ("landmark_gnn", "landmark_mlp", case) if case.startswith(n))
        models[case] = fer.models.build(name, **options)
        inputs[case] = {"image": images, "landmarks": landmarks} if name == "fer_landmark_fusion" else landmarks
        weights[case] = len(models[case].weights)
    report = reload_in_fresh_process(models, inputs, tmp_path)
    assert set(report) == set(cases)
    for case, got in report.items():
        assert got["max_diff"] < 1e-5, (case, got["max_diff"])
        assert got["weights"] == weights[case] and not any(m.startswith("fer.models") for m in got["fer_modules"]), case
    # the two GNNs differ only by the graph kept in GraphConv's config, and it survives the round trip
    gnn = {case: np.asarray(models[case](landmarks, training=False))
           for case in ("landmark_gnn", "landmark_gnn_anatomical")}
    assert not np.allclose(gnn["landmark_gnn"], gnn["landmark_gnn_anatomical"])


def test_the_flatten_readout_keeps_which_point_carries_a_feature():
    pooled = fer.models.build("landmark_gnn", readout="pool")
    flat = fer.models.build("landmark_gnn", readout_dim=4)
    assert flat.get_layer("gconv_readout_flatten").output.shape[1] == 468 * 4
    # the head's first dense layer reads 468 x 4 numbers instead of the mean and max of the last 64 features
    assert flat.get_layer("fc1_dense").kernel.shape[0] == 468 * 4
    assert pooled.get_layer("fc1_dense").kernel.shape[0] == 2 * 64
    # on the same last-layer features, pooling cannot tell the points apart; the flat readout can
    x = _landmarks(2, seed=6)
    perm = np.random.default_rng(0).permutation(468)
    last = keras.Model(pooled.inputs, pooled.get_layer("gconv5_relu").output)
    h = np.asarray(last(x, training=False))
    pool_head = keras.Sequential([pooled.get_layer("gconv_mean_pool")])
    np.testing.assert_allclose(np.asarray(pool_head(h)), np.asarray(pool_head(h[:, perm])), rtol=1e-4, atol=1e-5)
    flat_last = keras.Model(flat.inputs, flat.get_layer("gconv5_relu").output)
    hf = np.asarray(flat_last(x, training=False))
    flat_head = keras.Sequential([flat.get_layer("gconv_readout_dense"), flat.get_layer("gconv_readout_flatten")])
    assert not np.allclose(np.asarray(flat_head(hf)), np.asarray(flat_head(hf[:, perm])), atol=1e-4)
    with pytest.raises(ValueError, match="readout='sum'.*'pool'"):
        fer.models.build("landmark_gnn", readout="sum")


def test_the_mlp_normalises_each_hidden_layer_unless_asked_not_to():
    plain, normed = fer.models.build("landmark_mlp", batchnorm=False), fer.models.build("landmark_mlp")
    norms = [layer.name for layer in normed.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms == ["fc1_bn", "fc2_bn"]
    assert normed.get_layer("fc1_dense").use_bias is False and plain.get_layer("fc1_dense").use_bias is True
    # BatchNorm adds 4 numbers per unit and each hidden layer drops its bias
    assert normed.count_params() - plain.count_params() == 3 * (512 + 256)


def test_the_fusion_model_can_normalise_its_landmark_branch():
    plain, normed = fer.models.build("fer_landmark_fusion"), fer.models.build("fer_landmark_fusion",
                                                                             landmark_batchnorm=True)
    assert not any(layer.name.startswith("lm_fc") and isinstance(layer, keras.layers.BatchNormalization)
                   for layer in plain.layers)
    assert [layer.name for layer in normed.layers if layer.name.startswith("lm_fc") and
            isinstance(layer, keras.layers.BatchNormalization)] == ["lm_fc1_bn", "lm_fc2_bn"]
    assert normed.count_params() - plain.count_params() == 3 * (512 + 256)
