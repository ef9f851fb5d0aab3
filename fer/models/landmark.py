"""Landmark models: ``landmark_mlp``, ``landmark_transformer`` (FT-Transformer), ``landmark_gnn``, fusion.

The fusion model ``fer_landmark_fusion`` sees the image and the landmarks.

The three landmark-only models take normalised FaceMesh landmarks ``468 x 3`` (input layer
``landmarks``; see :func:`fer.landmarks.landmark_dataset`), not pixels. Layer names: ``fc{k}_*`` dense
layers, ``token_embedding`` / ``cls_token`` / ``block{i}_*`` transformer blocks, ``gconv{i}_*`` graph
convolutions; every model ends ``logits`` → ``predictions`` (float32 softmax) like the image models.
"""

from __future__ import annotations

import keras
from keras import layers

from fer.landmarks.layers import ClassToken, GraphConv, LandmarkTokenizer, NodeEmbedding
from fer.models.blocks import input_stem, load_weights_file
from fer.models.registry import register

LANDMARK_SHAPE = (468, 3)


def _landmark_input(input_shape) -> keras.KerasTensor:
    shape = tuple(input_shape)
    if len(shape) != 2 or shape[0] not in (468, 478) or shape[1] not in (2, 3):
        raise ValueError(f"input_shape must be (468, 3) FaceMesh landmarks ((468|478, 2|3)), got {shape}; "
                         "landmark models take fer.landmarks.landmark_dataset(ds).images, not pixels")
    return keras.Input(shape=shape, name="landmarks")


def _softmax_head(x, num_classes: int):
    x = layers.Dense(num_classes, name="logits")(x)
    return layers.Activation("softmax", dtype="float32", name="predictions")(x)


def _mlp_features(x, units, dropout: float, prefix: str = "fc", batchnorm: bool = False):
    x = layers.Flatten(name=f"{prefix}_flatten")(x)
    for k, u in enumerate(units, start=1):
        x = layers.Dense(u, use_bias=not batchnorm, name=f"{prefix}{k}_dense")(x)
        if batchnorm:
            x = layers.BatchNormalization(name=f"{prefix}{k}_bn")(x)
        x = layers.ReLU(name=f"{prefix}{k}_relu")(x)
        x = layers.Dropout(dropout, name=f"{prefix}{k}_dropout")(x)
    return x


@register("landmark_mlp", LANDMARK_SHAPE)
def build_landmark_mlp(input_shape: tuple[int, int] = LANDMARK_SHAPE, num_classes: int = 7,
                       weights: str | None = None, units: tuple[int, ...] = (512, 256),
                       dropout: float = 0.3, batchnorm: bool = True) -> keras.Model:
    """A multilayer perceptron on the flattened landmarks: 1404 → 512 → 256 → classes.

    Args:
        input_shape: ``(points, coords)``, default ``(468, 3)``.
        num_classes: number of output classes.
        weights: ``None`` or a path to a ``.weights.h5`` file of the same architecture.
        units: hidden layer widths (ReLU, each followed by dropout).
        dropout: dropout rate after each hidden layer.
        batchnorm: BatchNorm between each hidden layer's matrix product and its ReLU (the layer's bias
            then dropped). On FER2013 PublicTest, 40 epochs of the landmark study: 52.0% with it, 44.4%
            without (``results/landmarks/summary.json``, ``landmark_mlp_batchnorm`` and ``landmark_mlp``).

    Returns:
        An uncompiled ``keras.Model`` taking normalised landmarks; 854,791 parameters at the
        defaults with 7 classes (852,487 without BatchNorm).

    References:
        The source project's landmark MLP (1404 → 512 → 256 → 7, about 850K parameters, 45.2% on FER2013).
    """
    inputs = _landmark_input(input_shape)
    x = _mlp_features(inputs, units, dropout, batchnorm=batchnorm)
    model = keras.Model(inputs, _softmax_head(x, num_classes), name="landmark_mlp")
    load_weights_file(model, weights)
    return model


@register("landmark_transformer", LANDMARK_SHAPE)
def build_landmark_transformer(input_shape: tuple[int, int] = LANDMARK_SHAPE, num_classes: int = 7,
                               weights: str | None = None, dim: int = 128, depth: int = 4, heads: int = 8,
                               ffn_dim: int = 512, dropout: float = 0.1,
                               attention_dropout: float = 0.0) -> keras.Model:
    """FT-Transformer on landmarks: one token per point, a ``[CLS]`` token, pre-norm transformer blocks.

    Each point's ``(x, y, z)`` becomes a ``dim``-vector through its own linear map
    (:class:`~fer.landmarks.layers.LandmarkTokenizer`), a learned ``[CLS]`` token is prepended, and
    ``depth`` blocks of LayerNorm → multi-head self-attention → residual, LayerNorm → GELU MLP →
    residual follow; the ``[CLS]`` output (after a last LayerNorm) is classified.

    Note: self-attention over 469 tokens makes this the study's slowest model to train on a CPU (its
    training time is in ``results/architectures/summary.json``); on a GPU it trains in minutes. Dropout on
    the attention weights is off by default: it draws a random mask of batch x heads x 469 x 469 numbers
    in every block of every step, a large share of a CPU training step's time; pass
    ``attention_dropout=0.2`` (FT-Transformer's default) for long runs on a GPU.

    Args:
        input_shape: ``(points, coords)``, default ``(468, 3)``.
        num_classes: number of output classes.
        weights: ``None`` or a path to a ``.weights.h5`` file of the same architecture.
        dim: token width.
        depth: transformer blocks.
        heads: attention heads (``dim`` must divide by it).
        ffn_dim: hidden width of each block's MLP.
        dropout: dropout on the residual branches.
        attention_dropout: dropout on the attention weights (off by default, see the note).

    Returns:
        An uncompiled ``keras.Model`` taking normalised landmarks; 1,033,991 parameters at the
        defaults with 7 classes.

    References:
        Gorishniy et al., "Revisiting Deep Learning Models for Tabular Data", NeurIPS 2021 (FT-Transformer);
        the source project's landmark FT-Transformer (4 layers, 8 heads, about 1M parameters, 53.6%).
    """
    if dim % heads:
        raise ValueError(f"dim={dim} must be divisible by heads={heads}")
    inputs = _landmark_input(input_shape)
    x = LandmarkTokenizer(dim, name="token_embedding")(inputs)
    x = ClassToken(name="cls_token")(x)
    for i in range(1, depth + 1):
        y = layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_ln1")(x)
        y = layers.MultiHeadAttention(heads, dim // heads, dropout=attention_dropout, name=f"block{i}_attention")(y, y)
        y = layers.Dropout(dropout, name=f"block{i}_drop1")(y)
        x = layers.Add(name=f"block{i}_add1")([x, y])
        y = layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_ln2")(x)
        y = layers.Dense(ffn_dim, activation="gelu", name=f"block{i}_ffn1")(y)
        y = layers.Dense(dim, name=f"block{i}_ffn2")(y)
        y = layers.Dropout(dropout, name=f"block{i}_drop2")(y)
        x = layers.Add(name=f"block{i}_out")([x, y])
    x = layers.Cropping1D((0, int(input_shape[0])), name="cls_output")(x)  # keeps token 0, the [CLS]
    x = layers.Flatten(name="cls_flatten")(x)
    x = layers.LayerNormalization(epsilon=1e-5, name="head_ln")(x)
    model = keras.Model(inputs, _softmax_head(x, num_classes), name="landmark_transformer")
    load_weights_file(model, weights)
    return model


GNN_READOUTS = ("pool", "flatten")


def _gnn_features(x, graph: str, units, node_dim: int, dropout: float, readout: str, readout_dim: int,
                  prefix: str = "gconv"):
    if readout not in GNN_READOUTS:
        raise ValueError(f"landmark_gnn: readout={readout!r} is not one of {GNN_READOUTS}: 'pool' averages and "
                         "max-pools over the points, 'flatten' keeps a few features of every point")
    num_nodes = int(x.shape[1])
    x = layers.Dense(node_dim, name=f"{prefix}_input_dense")(x)
    x = NodeEmbedding(name=f"{prefix}_node_embedding")(x)
    for i, u in enumerate(units, start=1):
        shortcut = x
        x = GraphConv(u, graph=graph, num_nodes=num_nodes, use_bias=False, name=f"{prefix}{i}_conv")(x)
        x = layers.BatchNormalization(name=f"{prefix}{i}_bn")(x)
        if int(shortcut.shape[-1]) == u:
            x = layers.Add(name=f"{prefix}{i}_add")([x, shortcut])
        x = layers.ReLU(name=f"{prefix}{i}_relu")(x)
    if readout == "flatten":  # which point carries a feature is kept, as in landmark_mlp
        x = layers.Dense(readout_dim, name=f"{prefix}_readout_dense")(x)
        x = layers.Flatten(name=f"{prefix}_readout_flatten")(x)
        return layers.Dropout(dropout, name=f"{prefix}_readout_dropout")(x)
    mean = layers.GlobalAveragePooling1D(name=f"{prefix}_mean_pool")(x)
    peak = layers.GlobalMaxPooling1D(name=f"{prefix}_max_pool")(x)
    x = layers.Concatenate(name=f"{prefix}_pool")([mean, peak])
    return layers.Dropout(dropout, name=f"{prefix}_pool_dropout")(x)


@register("landmark_gnn", LANDMARK_SHAPE)
def build_landmark_gnn(input_shape: tuple[int, int] = LANDMARK_SHAPE, num_classes: int = 7,
                       weights: str | None = None, graph: str = "mesh",
                       units: tuple[int, ...] = (32, 32, 64, 64, 64), node_dim: int = 32,
                       head_units: int = 128, dropout: float = 0.3, readout: str = "flatten",
                       readout_dim: int = 4) -> keras.Model:
    """A graph convolutional network over a fixed FaceMesh graph with a node-wise readout.

    Each point's coordinates go through a shared dense layer plus a learned per-node embedding (so the
    shared graph convolutions know which point is which), then five graph convolutions
    (:class:`~fer.landmarks.layers.GraphConv`, each with BatchNorm, ReLU and a residual connection
    where widths match), then a readout that keeps which point is which (a shared dense layer to a few
    numbers per point, flattened), a dense layer and the classifier. The usual GNN readout, mean and max
    pooling over the points, is ``readout="pool"``: it scored 5.7 points less on PublicTest in the same
    4-epoch trial (``results/landmarks/README.md``).

    Args:
        input_shape: ``(points, coords)``, default ``(468, 3)`` (478 points for the iris model).
        num_classes: number of output classes.
        weights: ``None`` or a path to a ``.weights.h5`` file of the same architecture.
        graph: ``"mesh"`` (FaceMesh tesselation, no isolated node) or ``"anatomical"`` (the source's
            157 contour edges; 308 of 468 nodes isolated).
        units: widths of the graph convolutions. Every node carries its own features through every
            layer, so activations are 468x those of an MLP: the defaults are narrow (11 ms per face per
            training step on a busy 2-core CPU; (64, 64, 128, 128, 128) costs 28 ms).
        node_dim: width of the per-node input embedding.
        head_units: width of the dense layer after pooling.
        dropout: dropout after pooling and in the head.
        readout: how the points' features reach the head: ``"flatten"`` (a shared dense layer maps each
            point to ``readout_dim`` numbers, all of them flattened into the head) or ``"pool"`` (mean and max
            over the points, so the head does not know which point carried a feature).
        readout_dim: features per point kept by ``readout="flatten"``.

    Returns:
        An uncompiled ``keras.Model`` taking normalised landmarks; 269,323 parameters at the
        defaults with 7 classes.

    References:
        Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional Networks", ICLR 2017;
        the source project's landmark GNN (5 graph-conv layers, 157 anatomical edges, 537K parameters, 50.6%).
    """
    inputs = _landmark_input(input_shape)
    x = _gnn_features(inputs, graph, units, node_dim, dropout, readout, readout_dim)
    x = layers.Dense(head_units, name="fc1_dense")(x)
    x = layers.ReLU(name="fc1_relu")(x)
    x = layers.Dropout(dropout, name="fc1_dropout")(x)
    model = keras.Model(inputs, _softmax_head(x, num_classes), name="landmark_gnn")
    load_weights_file(model, weights)
    return model


@register("fer_landmark_fusion", (48, 48, 1))
def build_fer_landmark_fusion(input_shape: tuple[int, int, int] = (48, 48, 1), num_classes: int = 7,
                              weights: str | None = None, landmark_shape: tuple[int, int] = LANDMARK_SHAPE,
                              widths: tuple[int, ...] = (64, 128, 256, 320), depths: tuple[int, ...] = (1, 2, 2, 1),
                              landmark_units: tuple[int, ...] = (512, 256), fusion_units: int = 256,
                              dropout: float = 0.3, landmark_batchnorm: bool = False) -> keras.Model:
    """Image + landmarks, trained end to end: ``fer_resnet`` image features and an MLP landmark branch, concatenated.

    Two inputs: ``image`` (pixels in ``[0, 255]``, like every image model) and ``landmarks`` (normalised
    FaceMesh points, like the landmark models). The image branch is ``fer_resnet`` up to its average
    pooling (layer names prefixed ``image_``), the landmark branch the ``landmark_mlp`` body (``lm_fc*``);
    their features are concatenated (``fusion_concat``) and go through one dense layer to the classifier.

    Args:
        input_shape: the image's ``(H, W, C)``, default ``(48, 48, 1)``.
        num_classes: number of output classes.
        weights: ``None`` or a path to a ``.weights.h5`` file of the same architecture.
        landmark_shape: ``(points, coords)``, default ``(468, 3)``.
        widths, depths: the ``fer_resnet`` stages.
        landmark_units: hidden widths of the landmark branch.
        fusion_units: width of the dense layer after concatenation.
        dropout: dropout in both branches and after fusion.
        landmark_batchnorm: BatchNorm in the landmark branch's hidden layers, as in ``landmark_mlp`` (off: the
            committed study run was trained without it; to compare, ``python -m fer study landmarks --runs
            fer_landmark_fusion+landmark_batchnorm:8``).

    Returns:
        An uncompiled two-input ``keras.Model`` (inputs named ``image`` and ``landmarks``);
        5,467,303 parameters at the defaults with 7 classes.

    References:
        Fusion of image and landmark models is the source project's stated future work; image branch:
        He et al., CVPR 2016 (see :func:`fer.models.build_fer_resnet`).
    """
    from fer.models.fer_resnet import residual_trunk

    image, x = input_stem(input_shape)
    x = residual_trunk(x, widths, depths, prefix="image_")
    x = layers.Dropout(dropout, name="image_dropout")(x)
    lm = _landmark_input(landmark_shape)
    y = _mlp_features(lm, landmark_units, dropout, prefix="lm_fc", batchnorm=landmark_batchnorm)
    z = layers.Concatenate(name="fusion_concat")([x, y])
    z = layers.Dense(fusion_units, name="fusion_dense")(z)
    z = layers.ReLU(name="fusion_relu")(z)
    z = layers.Dropout(dropout, name="fusion_dropout")(z)
    model = keras.Model({"image": image, "landmarks": lm}, _softmax_head(z, num_classes), name="fer_landmark_fusion")
    load_weights_file(model, weights)
    return model
