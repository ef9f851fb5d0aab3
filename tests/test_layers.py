"""fer.layers: each layer against a NumPy computation of its formula, config round trip, save/reload, maps."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fer.layers import CBAM, CaffePreprocess, ChannelAttention, SpatialAttention, SqueezeExcitation, attention_maps

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 6, 5, 16)).astype("float32")


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def relu(v):
    return np.maximum(v, 0.0)


def np_channel_map(x, w1, b1, w2, b2):
    def mlp(v):
        return relu(v @ w1 + b1) @ w2 + b2

    return sigmoid(mlp(x.mean(axis=(1, 2))) + mlp(x.max(axis=(1, 2))))[:, None, None, :]


def np_conv_same(x, kernel):
    """'same' convolution (TF padding: extra row/column at the end), stride 1, no bias."""
    kh, kw = kernel.shape[:2]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    h, w = x.shape[1:3]
    out = np.zeros((x.shape[0], h, w, kernel.shape[-1]), dtype="float64")
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("bhwc,cf->bhwf", padded[:, i:i + h, j:j + w, :], kernel[i, j])
    return out


def np_spatial_map(x, kernel):
    stacked = np.concatenate([x.mean(axis=-1, keepdims=True), x.max(axis=-1, keepdims=True)], axis=-1)
    return sigmoid(np_conv_same(stacked, kernel))


def randomize(layer, seed=1):
    """Random weights everywhere (biases included), so every term of the formula matters."""
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def built(layer, shape=X.shape):
    layer.build(shape)
    return randomize(layer)


def test_channel_attention_matches_numpy():
    layer = built(ChannelAttention(ratio=4))
    assert layer.mlp_hidden.units == 4 and layer.mlp_out.units == 16
    w1, b1, w2, b2 = layer.get_weights()
    expected = X * np_channel_map(X, w1, b1, w2, b2)
    np.testing.assert_allclose(np.asarray(layer(X)), expected, rtol=1e-5, atol=1e-5)


def test_spatial_attention_matches_numpy():
    for k in (7, 3, 4):
        layer = built(SpatialAttention(kernel_size=k))
        (kernel,) = layer.get_weights()
        assert kernel.shape == (k, k, 2, 1)
        np.testing.assert_allclose(np.asarray(layer(X)), X * np_spatial_map(X, kernel), rtol=1e-5, atol=1e-5)


def test_cbam_is_channel_then_spatial():
    layer = built(CBAM(ratio=8, kernel_size=3))
    w1, b1, w2, b2 = layer.channel.get_weights()
    (kernel,) = layer.spatial.get_weights()
    refined = X * np_channel_map(X, w1, b1, w2, b2)
    expected = refined * np_spatial_map(refined, kernel)
    np.testing.assert_allclose(np.asarray(layer(X)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.attention(X)), np_spatial_map(refined, kernel), rtol=1e-5, atol=1e-5)


def test_squeeze_excitation_matches_numpy():
    layer = built(SqueezeExcitation(ratio=4))
    w1, b1, w2, b2 = layer.get_weights()
    gates = sigmoid(relu(X.mean(axis=(1, 2)) @ w1 + b1) @ w2 + b2)[:, None, None, :]
    np.testing.assert_allclose(np.asarray(layer(X)), X * gates, rtol=1e-5, atol=1e-5)


def test_ratio_larger_than_channels_keeps_one_hidden_unit():
    layer = ChannelAttention(ratio=64)
    layer.build((None, 4, 4, 16))
    assert layer.mlp_hidden.units == 1


def test_caffe_preprocess_matches_keras_applications():
    rgb = RNG.uniform(0, 255, size=(2, 4, 4, 3)).astype("float32")
    expected = keras.applications.resnet50.preprocess_input(rgb.copy())
    np.testing.assert_allclose(np.asarray(CaffePreprocess()(rgb)), expected, rtol=1e-6, atol=1e-4)
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        CaffePreprocess()(X)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "8", True])
def test_bad_arguments_are_rejected(bad):
    with pytest.raises(ValueError, match="ratio must be a positive integer"):
        ChannelAttention(ratio=bad)
    with pytest.raises(ValueError, match="kernel_size must be a positive integer"):
        SpatialAttention(kernel_size=bad)


def test_unknown_channels_are_rejected():
    with pytest.raises(ValueError, match="known number of channels"):
        SqueezeExcitation().build((None, 4, 4, None))


@pytest.mark.parametrize("make", [lambda: ChannelAttention(ratio=4), lambda: SpatialAttention(kernel_size=5),
                                  lambda: CBAM(ratio=2, kernel_size=3), lambda: SqueezeExcitation(ratio=8),
                                  lambda: CaffePreprocess()])
def test_config_round_trip(make):
    layer = make()
    shape = (2, 6, 5, 3) if isinstance(layer, CaffePreprocess) else X.shape
    data = RNG.uniform(0, 255, size=shape).astype("float32") if isinstance(layer, CaffePreprocess) else X
    built(layer, shape)
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone.build(shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(data)), np.asarray(layer(data)), rtol=1e-6, atol=1e-6)


def attention_model() -> keras.Model:
    inputs = keras.Input((12, 12, 3), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", name="conv")(inputs)
    x = CBAM(ratio=4, name="cbam")(x)
    x = SqueezeExcitation(ratio=4, name="se")(x)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = SpatialAttention(kernel_size=3, name="spatial")(x)
    x = ChannelAttention(ratio=4, name="channel")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(7, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    for layer in model.layers:
        if layer.weights:
            randomize(layer, seed=len(layer.name))
    return model


def test_save_reload_gives_same_outputs(tmp_path):
    model = attention_model()
    images = RNG.uniform(0, 255, size=(3, 12, 12, 3)).astype("float32")
    path = tmp_path / "attention.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    for name in ("cbam", "se", "spatial", "channel"):
        assert type(reloaded.get_layer(name)) is type(model.get_layer(name))
        assert reloaded.get_layer(name).get_config() == model.get_layer(name).get_config()
    np.testing.assert_allclose(np.asarray(reloaded(images)), np.asarray(model(images)), rtol=1e-6, atol=1e-6)


def test_attention_maps_match_the_layers_inputs_and_outputs(tmp_path):
    model = attention_model()
    images = RNG.uniform(0, 255, size=(3, 12, 12, 3)).astype("float32")
    maps = attention_maps(model, images, batch_size=2, channel=True)
    assert list(maps) == ["cbam", "cbam/channel", "se", "spatial", "channel"]
    assert maps["cbam"].shape == (3, 12, 12, 1) and maps["cbam/channel"].shape == (3, 1, 1, 16)
    assert maps["se"].shape == (3, 1, 1, 16)
    assert maps["spatial"].shape == (3, 6, 6, 1) and maps["channel"].shape == (3, 1, 1, 16)
    for m in maps.values():
        assert m.dtype == np.float32 and m.min() >= 0 and m.max() <= 1

    # Each layer's output must be its input times its map (CBAM: channel-refined input times spatial map).
    probe = keras.Model(model.input, {n: [model.get_layer(n).input, model.get_layer(n).output]
                                       for n in ("cbam", "se", "spatial", "channel")})
    tensors = {k: [np.asarray(t) for t in v] for k, v in probe(images).items()}

    def close(actual, expected, scale):
        # The maps come from another forward pass (batches of 2, the probe's of 3), so oneDNN may sum in
        # another order: float32 round-off then grows with the size of the activations (hundreds here, the
        # input is 0-255 pixels), not with 1. A wrong map would be off by a whole factor, far above this.
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(scale).max())))

    for name in ("se", "spatial", "channel"):
        layer_in, layer_out = tensors[name]
        close(layer_out, layer_in * maps[name], layer_in)
    cbam_in, cbam_out = tensors["cbam"]
    close(cbam_out, cbam_in * maps["cbam/channel"] * maps["cbam"], cbam_in)

    # The probe leaves the model unchanged and works on a reloaded copy as well.
    path = tmp_path / "after_maps.keras"
    model.save(path)
    again = attention_maps(keras.saving.load_model(path), images[0])
    assert list(again) == ["cbam", "se", "spatial", "channel"]
    for name, m in again.items():
        np.testing.assert_allclose(m, maps[name][:1], rtol=1e-5, atol=1e-6)


def test_attention_maps_without_attention_layers():
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs), name="plain")
    with pytest.raises(ValueError, match="'plain' has no attention layer"):
        attention_maps(model, np.zeros((1, 8, 8, 1)))
    with pytest.raises(ValueError, match="images must have shape"):
        attention_maps(model, np.zeros((8, 8)))
