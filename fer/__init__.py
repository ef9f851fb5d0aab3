"""fer: facial expression recognition with Keras 3 — layers, models, data, training and inference."""

__version__ = "0.1.0"
