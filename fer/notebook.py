"""What every course notebook does first, and the cells several notebooks share: :func:`setup` (as fastbook's
``setup_book()``), :func:`course_data` and :func:`show_study_runs`.

A notebook starts with::

    from fer.notebook import setup

    setup()

then keeps its single ``parameters`` cell (which shrinks the run when ``FER_QUICK=1``).
"""

from __future__ import annotations

import os
import sys

#: The environment variable that turns on quick mode (small samples, one epoch: CI and laptops).
QUICK_ENV = "FER_QUICK"


def quick_mode() -> bool:
    """Whether ``FER_QUICK=1`` asks for quick mode (numbers then only show the mechanics)."""
    return os.environ.get(QUICK_ENV) == "1"


def setup(seed: int = 0, *, verbose: bool = True) -> dict:
    """Prepare a notebook: quiet TensorFlow's C++ logs, draw figures inline, seed Python, NumPy and the
    backend, report quick mode and the library versions (and GPUs) in one line.

    Starting TensorFlow here also makes its one-time start-up messages land in this cell rather than in
    the middle of a later one.

    Args:
        seed: the seed of :func:`keras.utils.set_random_seed` (a cell may seed again with its own).
        verbose: print the summary line.

    Returns:
        ``{"quick": bool, "versions": {...}, "gpus": [...]}``.

    Example:
        >>> from fer.notebook import setup
        >>> info = setup(seed=0, verbose=False)
        >>> sorted(info)
        ['gpus', 'quick', 'versions']
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "ipykernel" in sys.modules:  # inside Jupyter: figures inline, whatever the default backend
        _inline_figures()
    import keras

    import fer  # noqa: F401  (registers the custom layers and losses)
    from fer.environment import devices, versions

    keras.utils.set_random_seed(seed)
    found = versions("fer", "python", "keras", "tensorflow", "numpy", "opencv", missing_ok=True)
    gpus = devices()["gpus"]
    info = {"quick": quick_mode(), "versions": found, "gpus": gpus}
    if verbose:
        line = "  ".join(f"{k} {v}" for k, v in found.items() if v)
        print(f"{line}  · GPUs: {', '.join(gpus) or 'none (the CPU trains)'}  · seed {seed}")
        if info["quick"]:
            print(f"quick mode ({QUICK_ENV}=1): small samples and few epochs; the numbers only show the mechanics")
    return info


def course_data(data: str = "auto", train_size: int | None = None, eval_size: int | None = None, *,
                seed: int = 0, verbose: bool = True):
    """The notebooks' data: FER2013 when found (``data="auto"``, see :func:`fer.data.sources.find_dataset`),
    else the given source, else synthetic faces; with class-stratified samples of ``train_size`` training
    faces and ``eval_size`` faces of each evaluation split.

    Returns:
        ``(dataset, eval_split)``: ``eval_split`` is ``"test"`` when the data has one, else ``"val"``
        (PublicTest on the course copy of FER2013).

    Example:
        >>> ds, split = course_data("synthetic:10", verbose=False)
        >>> split
        'test'
    """
    from fer.data.sources import find_dataset, load_dataset

    path = find_dataset("fer2013") if data == "auto" else data
    ds = load_dataset(path or "synthetic")
    if train_size:
        ds = ds.sample("train", train_size, seed=seed)
    eval_splits = [s for s in ("val", "test") if s in ds.splits()]
    if eval_size:
        for split in eval_splits:
            ds = ds.sample(split, eval_size, seed=seed)
    eval_split = eval_splits[-1] if eval_splits else None
    if verbose:
        print("data:", path or "synthetic (no FER2013 found)")
        print(ds)
    return ds, eval_split


def show_study_runs(names: list[str], study: str, quick_metrics: dict | None = None) -> dict:
    """Show the architecture study's committed full runs of ``names`` (from the ``study`` folder): a table of
    their scores (beside ``quick_metrics``: ``{label: metrics}`` of this notebook's quick runs), each one's
    training curves and PublicTest confusion matrix. Returns the runs found (``{}`` before the study ran).

    Example:
        >>> runs = show_study_runs(["baseline_cnn"], "../results/architectures")  # doctest: +SKIP
    """
    from IPython.display import display

    from fer.plots import plot_confusion_matrix, plot_history
    from fer.studies import report

    full = report.committed_runs(names, study)
    print(f"committed study runs: {list(full) or 'none yet'}")
    display(report.beside_quick(full, quick_metrics).round(4))
    for name, committed in full.items():
        plot_history(committed["history"], title=f"{name}: the study's full run")
        plot_confusion_matrix(committed["metrics"], title=f"{name} · PublicTest (study)")
    return full


def _inline_figures() -> None:
    """Draw figures under the cell that made them, as ``%matplotlib inline`` does: the backend alone is not
    enough (a kernel started with ``MPLBACKEND=Agg`` lacks the hook that shows each cell's figures)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
