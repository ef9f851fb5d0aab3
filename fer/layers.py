"""Attention layers (CBAM, squeeze-and-excitation) and the ResNet input preprocessing as Keras 3 layers.

Every layer uses ``keras.ops`` only, creates its sublayers in ``__init__``/``build`` and is registered
with package ``"fer"``, so a ``.keras`` file that contains them loads with ``keras.saving.load_model``
in any process that has imported :mod:`fer.layers` (importing :mod:`fer.models` does that).

Each attention layer has an ``attention(x)`` method returning the map it multiplies its input with;
:func:`attention_maps` uses it to read every map of a model out for plotting.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

_PACKAGE = "fer"


def _positive_int(value, argument: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: {argument} must be a positive integer, got {value!r}")
    return int(value)


def _channels(input_shape, layer: str) -> int:
    if len(input_shape) != 4 or input_shape[-1] is None:
        raise ValueError(
            f"{layer} expects a 4-D channels-last input (batch, height, width, channels) with a known "
            f"number of channels, got shape {tuple(input_shape)}"
        )
    return int(input_shape[-1])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ChannelAttention(layers.Layer):
    """CBAM channel attention: ``x * sigmoid(MLP(avgpool(x)) + MLP(maxpool(x)))``.

    The MLP is shared between the two pooled descriptors: ``Dense(C // ratio, relu) → Dense(C)``
    (both with bias, as in the reference Keras CBAM). The map has shape ``(batch, 1, 1, C)``.

    Args:
        ratio: channel reduction ratio of the hidden layer (at least one hidden unit is kept).

    References:
        Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018.
    """

    def __init__(self, ratio: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.ratio = _positive_int(ratio, "ratio", "ChannelAttention")
        self.mlp_hidden = None
        self.mlp_out = None

    def build(self, input_shape):
        channels = _channels(input_shape, "ChannelAttention")
        self.mlp_hidden = layers.Dense(max(1, channels // self.ratio), activation="relu",
                                       kernel_initializer="he_normal", name="mlp_hidden", dtype=self.dtype_policy)
        self.mlp_out = layers.Dense(channels, kernel_initializer="he_normal", name="mlp_out", dtype=self.dtype_policy)
        self.mlp_hidden.build((None, 1, 1, channels))
        self.mlp_out.build((None, 1, 1, self.mlp_hidden.units))

    def attention(self, x):
        """The channel map ``sigmoid(MLP(avg) + MLP(max))``, shape ``(batch, 1, 1, C)``."""
        avg = ops.mean(x, axis=(1, 2), keepdims=True)
        mx = ops.max(x, axis=(1, 2), keepdims=True)
        return ops.sigmoid(self.mlp_out(self.mlp_hidden(avg)) + self.mlp_out(self.mlp_hidden(mx)))

    def call(self, inputs):
        return inputs * self.attention(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SpatialAttention(layers.Layer):
    """CBAM spatial attention: ``x * sigmoid(conv([mean_c(x), max_c(x)]))``.

    The channel-wise mean and max maps are concatenated and convolved by one ``kernel_size``
    convolution (1 filter, same padding, no bias, sigmoid). The map has shape ``(batch, H, W, 1)``.

    Args:
        kernel_size: size of the square convolution kernel (7 in the paper).

    References:
        Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018.
    """

    def __init__(self, kernel_size: int = 7, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = _positive_int(kernel_size, "kernel_size", "SpatialAttention")
        self.conv = layers.Conv2D(1, self.kernel_size, padding="same", activation="sigmoid", use_bias=False,
                                  kernel_initializer="he_normal", name="conv", dtype=self.dtype_policy)

    def build(self, input_shape):
        _channels(input_shape, "SpatialAttention")
        self.conv.build((*tuple(input_shape)[:-1], 2))

    def attention(self, x):
        """The spatial map ``sigmoid(conv([mean_c, max_c]))``, shape ``(batch, H, W, 1)``."""
        avg = ops.mean(x, axis=-1, keepdims=True)
        mx = ops.max(x, axis=-1, keepdims=True)
        return self.conv(ops.concatenate([avg, mx], axis=-1))

    def call(self, inputs):
        return inputs * self.attention(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CBAM(layers.Layer):
    """Convolutional Block Attention Module: :class:`ChannelAttention` then :class:`SpatialAttention`.

    ``attention(x)`` returns the spatial map ``(batch, H, W, 1)`` (computed on the channel-refined
    features, i.e. the map CBAM really applies); ``channel_attention(x)`` returns the channel map.

    Args:
        ratio: channel reduction ratio of the channel-attention MLP.
        kernel_size: kernel size of the spatial-attention convolution.

    References:
        Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018.
    """

    def __init__(self, ratio: int = 8, kernel_size: int = 7, **kwargs):
        super().__init__(**kwargs)
        self.ratio = _positive_int(ratio, "ratio", "CBAM")
        self.kernel_size = _positive_int(kernel_size, "kernel_size", "CBAM")
        self.channel = ChannelAttention(self.ratio, name="channel_attention", dtype=self.dtype_policy)
        self.spatial = SpatialAttention(self.kernel_size, name="spatial_attention", dtype=self.dtype_policy)

    def build(self, input_shape):
        _channels(input_shape, "CBAM")
        self.channel.build(input_shape)
        self.spatial.build(input_shape)

    def channel_attention(self, x):
        """The channel map, shape ``(batch, 1, 1, C)``."""
        return self.channel.attention(x)

    def attention(self, x):
        """The spatial map applied after channel refinement, shape ``(batch, H, W, 1)``."""
        return self.spatial.attention(self.channel(x))

    def call(self, inputs):
        return self.spatial(self.channel(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SqueezeExcitation(layers.Layer):
    """Squeeze-and-excitation: ``x * sigmoid(W2 relu(W1 avgpool(x)))``.

    The map has shape ``(batch, 1, 1, C)``.

    Args:
        ratio: reduction ratio of the bottleneck (at least one hidden unit is kept).

    References:
        Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018.
    """

    def __init__(self, ratio: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.ratio = _positive_int(ratio, "ratio", "SqueezeExcitation")
        self.squeeze = None
        self.excite = None

    def build(self, input_shape):
        channels = _channels(input_shape, "SqueezeExcitation")
        self.squeeze = layers.Dense(max(1, channels // self.ratio), activation="relu",
                                    kernel_initializer="he_normal", name="squeeze", dtype=self.dtype_policy)
        self.excite = layers.Dense(channels, activation="sigmoid", name="excite", dtype=self.dtype_policy)
        self.squeeze.build((None, 1, 1, channels))
        self.excite.build((None, 1, 1, self.squeeze.units))

    def attention(self, x):
        """The channel gates, shape ``(batch, 1, 1, C)``."""
        return self.excite(self.squeeze(ops.mean(x, axis=(1, 2), keepdims=True)))

    def call(self, inputs):
        return inputs * self.attention(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio}


#: ``keras.applications.resnet50.preprocess_input`` ("caffe" mode) channel means, in BGR order.
CAFFE_BGR_MEAN: tuple[float, float, float] = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CaffePreprocess(layers.Layer):
    """``keras.applications.resnet50.preprocess_input`` as a layer: RGB→BGR, minus the ImageNet BGR mean.

    Takes RGB pixels in ``[0, 255]``; has no weights (so ImageNet weight files still load by order).
    """

    def build(self, input_shape):
        if _channels(input_shape, "CaffePreprocess") != 3:
            raise ValueError(f"CaffePreprocess expects 3 (RGB) channels, got input shape {tuple(input_shape)}; "
                             "repeat grayscale to 3 channels first")

    def call(self, inputs):
        mean = ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype=inputs.dtype)
        return ops.flip(inputs, axis=-1) - mean

    def compute_output_shape(self, input_shape):
        return input_shape


#: Layer types whose maps :func:`attention_maps` reads out.
ATTENTION_LAYERS = (ChannelAttention, SpatialAttention, CBAM, SqueezeExcitation)


class _AttentionProbe(layers.Layer):
    """Calls ``getattr(source, method)`` so a probe model shows one node per map (never saved)."""

    def __init__(self, source: layers.Layer, method: str, **kwargs):
        super().__init__(**kwargs)
        self.source = source
        self.method = method

    def call(self, inputs):
        return getattr(self.source, self.method)(inputs)


def attention_maps(model: keras.Model, images, batch_size: int = 32,
                   channel: bool = False) -> dict[str, np.ndarray]:
    """Compute the attention maps of every attention layer of ``model`` for ``images``.

    A probe model is built from ``model.inputs`` to ``layer.attention(layer.input)`` for each
    top-level :class:`ChannelAttention`, :class:`SpatialAttention`, :class:`CBAM` and
    :class:`SqueezeExcitation` layer, sharing the model's layers and weights; the model itself is
    not changed.

    Args:
        model: a functional model (built by :mod:`fer.models`, or reloaded from a ``.keras`` file).
        images: ``(N, H, W, C)`` or a single ``(H, W, C)`` image (treated as N = 1), raw pixels
            as the model takes them.
        batch_size: prediction batch size.
        channel: also return each CBAM layer's channel map under the key ``"<layer name>/channel"``.

    Returns:
        ``{layer name: map}`` in layer order. Spatial maps (SpatialAttention, CBAM) are
        ``(N, h, w, 1)`` at the layer's resolution, channel maps (ChannelAttention,
        SqueezeExcitation, ``/channel``) are ``(N, 1, 1, C)``; all float32 in ``[0, 1]``.

    Raises:
        ValueError: the model has no top-level attention layer, or ``images`` has the wrong rank.
    """
    if len(model.inputs) != 1:
        raise ValueError(f"attention_maps needs a single-input model; {model.name!r} has {len(model.inputs)} inputs")
    images = np.asarray(images)
    expected_rank = len(model.inputs[0].shape)
    if images.ndim == expected_rank - 1:
        images = images[None]
    if images.ndim != expected_rank:
        raise ValueError(f"images must have shape (N, H, W, C) or (H, W, C), got {images.shape}")
    outputs = {}
    for layer in model.layers:
        if isinstance(layer, ATTENTION_LAYERS):
            outputs[layer.name] = _AttentionProbe(layer, "attention", name=f"{layer.name}__map")(layer.input)
            if channel and isinstance(layer, CBAM):
                outputs[f"{layer.name}/channel"] = _AttentionProbe(
                    layer, "channel_attention", name=f"{layer.name}__channel_map")(layer.input)
    if not outputs:
        names = ", ".join(cls.__name__ for cls in ATTENTION_LAYERS)
        raise ValueError(f"model {model.name!r} has no attention layer ({names}) at its top level")
    probe = keras.Model(model.inputs[0], outputs, name=f"{model.name}_attention_maps")
    images = images.astype("float32")
    chunks = [probe(images[i:i + batch_size], training=False) for i in range(0, len(images), batch_size)]
    return {name: np.concatenate([np.asarray(c[name], dtype="float32") for c in chunks]) for name in outputs}
