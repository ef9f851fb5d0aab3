"""Datasets: readers for the real formats, writers, synthetic data, merging, and the training pipeline.

The leakage audit (``audit``, ``audit_table``, ``plot_audit``, command ``python -m fer audit``)
lives in :mod:`fer.data.audit`; :func:`fer.data.sources.load_dataset` reads any supported source by name.
"""

from fer.data.ckplus import load_ckplus
from fer.data.dataset import SPLITS, Dataset
from fer.data.errors import DataError
from fer.data.fer2013 import load_fer2013_csv, write_fer2013_csv
from fer.data.ferplus import load_ferplus
from fer.data.folders import load_image_folders
from fer.data.merge import merge
from fer.data.pipeline import FERSequence
from fer.data.splits import split_by_group
from fer.data.synthetic import make_synthetic, write_synthetic
from fer.data.writers import write_dataset, write_image_folders

__all__ = [
    "SPLITS", "Dataset", "DataError", "FERSequence",
    "load_ckplus", "load_fer2013_csv", "load_ferplus", "load_image_folders",
    "merge", "split_by_group", "make_synthetic", "write_synthetic",
    "write_dataset", "write_fer2013_csv", "write_image_folders",
]
