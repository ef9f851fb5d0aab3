"""Datasets: readers for the real formats, merging, and the training pipeline."""

from fer.data.dataset import SPLITS, Dataset
from fer.data.errors import DataError
from fer.data.fer2013 import load_fer2013_csv, write_fer2013_csv

__all__ = ["SPLITS", "Dataset", "DataError", "load_fer2013_csv", "write_fer2013_csv"]

# readers, writers, synthetic data, merging (data helper)
from fer.data.ckplus import load_ckplus  # noqa: E402
from fer.data.ferplus import load_ferplus  # noqa: E402
from fer.data.folders import load_image_folders  # noqa: E402
from fer.data.merge import merge  # noqa: E402
from fer.data.splits import split_by_group  # noqa: E402
from fer.data.synthetic import make_synthetic, write_synthetic  # noqa: E402
from fer.data.writers import write_dataset, write_image_folders  # noqa: E402

__all__ += ["load_ckplus", "load_ferplus", "load_image_folders", "merge", "split_by_group", "make_synthetic",
            "write_synthetic", "write_dataset", "write_image_folders"]
# the audit (audit, audit_table, plot_audit, command `python -m fer.data.audit`) lives in fer.data.audit

