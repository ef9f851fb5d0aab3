"""fer: facial expression recognition with Keras 3 — layers, models, data, training and inference.

Importing ``fer`` registers the project's custom layers and losses with Keras, so any ``.keras``
file the project writes loads with plain ``keras.saving.load_model(path)``.
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

from fer import class_names as _class_names  # noqa: E402,F401  (registers LabeledActivation/LabeledSoftmax)
from fer import layers as _layers  # noqa: E402,F401  (registers CBAM & co.)
from fer import losses as _losses  # noqa: E402,F401  (registers ArcFace, CenterLoss, FocalLoss)
from fer.landmarks import layers as _landmark_layers  # noqa: E402,F401  (registers GraphConv & co.)
