"""Atomic outputs, kept under their old name: everything lives in :mod:`fer.files`."""

from fer.files import (  # noqa: F401
    atomic_dir,
    atomic_path,
    json_default,
    save_figure_png,
    save_model,
    write_csv,
    write_json,
    write_npz,
    write_text,
)

__all__ = ["atomic_dir", "atomic_path", "json_default", "save_figure_png", "save_model", "write_csv", "write_json",
           "write_npz", "write_text"]
