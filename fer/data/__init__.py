"""Datasets: readers for the real formats, merging, and the training pipeline."""

from fer.data.dataset import SPLITS, Dataset
from fer.data.errors import DataError
from fer.data.fer2013 import load_fer2013_csv, write_fer2013_csv

__all__ = ["SPLITS", "Dataset", "DataError", "load_fer2013_csv", "write_fer2013_csv"]
