"""The model zoo: ``fer.models.available()``, ``fer.models.build(name, ...)`` and each ``build_<name>``.

Importing this package imports every family module, which registers its builders.
"""

from fer.models.cbam import build_cbam_5cnn
from fer.models.cnn import build_baseline_cnn, build_cnn_spatial_attention, build_simple_cnn
from fer.models.efficientnet import build_efficientnet_b0, build_efficientnet_b3
from fer.models.fer_resnet import build_fer_resnet
from fer.models.landmark import (
                                 build_fer_landmark_fusion,
                                 build_landmark_gnn,
                                 build_landmark_mlp,
                                 build_landmark_transformer,
)
from fer.models.mobilenet import build_mobilenet_cbam
from fer.models.registry import DEFAULT_LR, available, build, default_lr, default_shape, learning_rate
from fer.models.resnet import build_resnet50, build_resnet50_cbam

__all__ = [
    "DEFAULT_LR", "available", "build", "default_lr", "default_shape", "learning_rate",
    "build_fer_resnet",
    "build_baseline_cnn", "build_simple_cnn", "build_cnn_spatial_attention",
    "build_cbam_5cnn",
    "build_efficientnet_b3", "build_efficientnet_b0",
    "build_resnet50", "build_resnet50_cbam",
    "build_mobilenet_cbam",
    "build_landmark_mlp", "build_landmark_transformer", "build_landmark_gnn", "build_fer_landmark_fusion",
]
