"""Keras layers of the landmark models: ``GraphConv``, ``NodeEmbedding``, ``LandmarkTokenizer``, ``ClassToken``.

All use ``keras.ops`` only, build their weights in ``build`` and serialise through ``get_config``
(registered under the ``fer`` package), so a saved landmark model reloads after ``import fer``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="fer")
class GraphConv(keras.layers.Layer):
    """Graph convolution ``H' = Â H W + b`` (Kipf & Welling 2017) over a fixed FaceMesh graph.

    ``Â = D^-1/2 (A + I) D^-1/2`` is built from the edge set name (:func:`fer.landmarks.graph.normalized_edges`),
    so the config stays small; the product with ``Â`` is a sparse gather + segment sum over the edges
    (5,580 messages for the mesh graph instead of a 468x468 dense product).

    Args:
        units: output features per node.
        graph: ``"anatomical"`` or ``"mesh"`` (see :mod:`fer.landmarks.graph`).
        num_nodes: 468 or 478; must match the input's node axis.
        activation: applied after the bias.
        use_bias: add a bias.

    Input ``B x P x F`` → output ``B x P x units``.
    """

    def __init__(self, units: int, graph: str = "mesh", num_nodes: int = 468, activation=None,
                 use_bias: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        from fer.landmarks.graph import normalized_edges

        self.units, self.graph, self.num_nodes, self.use_bias = int(units), graph, int(num_nodes), bool(use_bias)
        self.activation = keras.activations.get(activation)
        self._src_np, self._dst_np, self._w_np = normalized_edges(graph, self.num_nodes)

    def build(self, input_shape) -> None:
        if input_shape[-2] is not None and int(input_shape[-2]) != self.num_nodes:
            raise ValueError(f"GraphConv(graph={self.graph!r}) has {self.num_nodes} nodes but its input has "
                             f"{input_shape[-2]}; pass num_nodes={input_shape[-2]} (468 or 478)")
        self.kernel = self.add_weight(name="kernel", shape=(int(input_shape[-1]), self.units),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros") if self.use_bias else None

    def call(self, x):
        h = ops.matmul(x, ops.cast(self.kernel, x.dtype))
        nodes_first = ops.transpose(h, (1, 0, 2))  # P x B x U: gather and segment over the leading axis
        msg = ops.take(nodes_first, ops.convert_to_tensor(self._src_np), axis=0)
        msg = msg * ops.cast(ops.convert_to_tensor(self._w_np), h.dtype)[:, None, None]
        agg = ops.segment_sum(msg, ops.convert_to_tensor(self._dst_np), num_segments=self.num_nodes)
        out = ops.transpose(agg, (1, 0, 2))
        if self.bias is not None:
            out = out + ops.cast(self.bias, out.dtype)
        return self.activation(out)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "graph": self.graph, "num_nodes": self.num_nodes,
                "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package="fer")
class NodeEmbedding(keras.layers.Layer):
    """Adds a learned vector per node (``P x F``) to ``B x P x F`` features.

    It tells shared-weight layers which point is which."""

    def build(self, input_shape) -> None:
        self.embedding = self.add_weight(name="embedding", shape=(int(input_shape[-2]), int(input_shape[-1])),
                                         initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        return x + ops.cast(self.embedding, x.dtype)[None]

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="fer")
class LandmarkTokenizer(keras.layers.Layer):
    """FT-Transformer feature tokenizer for points: token ``i = p_i W_i + b_i`` with one ``F x dim`` matrix per point.

    Gorishniy et al. (2021) embed each scalar feature ``x_j`` as ``x_j w_j + b_j``; here each landmark's
    ``(x, y, z)`` is the feature, so ``B x P x F`` becomes ``B x P x dim`` and every token knows its point.
    """

    def __init__(self, dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dim = int(dim)

    def build(self, input_shape) -> None:
        p, f = int(input_shape[-2]), int(input_shape[-1])
        limit = float(np.sqrt(1.0 / f))
        init = keras.initializers.RandomUniform(-limit, limit)
        self.kernel = self.add_weight(name="kernel", shape=(p, f, self.dim), initializer=init)
        self.bias = self.add_weight(name="bias", shape=(p, self.dim), initializer=init)

    def call(self, x):
        return ops.einsum("bpf,pfd->bpd", x, ops.cast(self.kernel, x.dtype)) + ops.cast(self.bias, x.dtype)[None]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.dim)

    def get_config(self) -> dict:
        return {**super().get_config(), "dim": self.dim}


@keras.saving.register_keras_serializable(package="fer")
class ClassToken(keras.layers.Layer):
    """Prepends a learned ``[CLS]`` token: ``B x T x D`` → ``B x (T + 1) x D``."""

    def build(self, input_shape) -> None:
        self.token = self.add_weight(name="token", shape=(1, 1, int(input_shape[-1])),
                                     initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        cls = ops.broadcast_to(ops.cast(self.token, x.dtype), (ops.shape(x)[0], 1, ops.shape(x)[-1]))
        return ops.concatenate([cls, x], axis=1)

    def compute_output_shape(self, input_shape):
        t = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], t, input_shape[-1])
