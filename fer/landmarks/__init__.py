"""Facial landmarks: MediaPipe FaceMesh extraction, normalisation, graphs and landmark datasets for the landmark models.

Modules: :mod:`~fer.landmarks.facemesh` (the shipped FaceMesh model, batch extraction, cache),
:mod:`~fer.landmarks.geometry` (normalisation, mirror, augmentation), :mod:`~fer.landmarks.graph`
(edge sets and adjacency), :mod:`~fer.landmarks.layers` (Keras layers), :mod:`~fer.landmarks.data`
(``landmark_dataset``, training / evaluation hooks, ``landmark_predict_fn``) and
:mod:`~fer.landmarks.connections` (MediaPipe's edge sets). The everyday names are importable from here;
they load on first use, so ``import fer`` stays light.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "FaceMesh": "facemesh", "extract_landmarks": "facemesh", "prepare_crops": "facemesh", "verify_model": "facemesh",
    "Landmarks": "facemesh", "PRESENCE_THRESHOLD": "facemesh", "DEFAULT_MARGIN": "facemesh",
    "normalize_landmarks": "geometry", "mirror_landmarks": "geometry", "augment_landmarks": "geometry",
    "mean_face": "geometry", "mirror_permutation": "geometry",
    "edge_set": "graph", "normalized_edges": "graph", "dense_adjacency": "graph", "isolated_nodes": "graph",
    "LandmarkDataset": "data", "landmark_dataset": "data", "prepare_landmark_inputs": "data",
    "evaluate_landmark_model": "data", "landmark_predict_fn": "data", "LandmarkPredictor": "data",
    "is_landmark_model": "data", "LANDMARK_MODELS": "data", "FUSION_MODELS": "data",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"fer.landmarks.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'fer.landmarks' has no attribute {name!r}")
