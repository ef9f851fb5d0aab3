"""Executed copies of the notebooks for readers on GitHub: ``docs/NN_topic.md`` with its figures as PNGs.

The committed notebooks stay stripped (no outputs in git). This runs each one top to bottom in quick mode
(``FER_QUICK=1``) on the real data when it is found, so the learner's own runs are the quick ones while every
full-scale number and figure comes from the committed results (the architecture study, the shipped models),
never from retraining, and writes a Markdown copy with its outputs::

    python tools/render_notebooks.py                       # all notebooks, data found automatically
    python tools/render_notebooks.py 08 03 --data ../shared/data/fer2013/fer2013.csv.gz

Each copy is written to a temporary folder and moved into ``docs/`` only when the notebook ran without error.

A cell tagged ``dataset-faces`` draws faces of the datasets themselves (FER2013, CK+: samples, augmented
views, Grad-CAM and attention over them). Those datasets' images may not be redistributed, so the published
copy keeps that cell's code and printed text but replaces its pictures with a line saying why
(:func:`withhold_dataset_faces`); the learner sees them when running the notebook.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: the cell tag of a cell whose figures show dataset faces (not published)
FACES_TAG = "dataset-faces"
WITHHELD = ("*Figure not published: it shows faces from the dataset itself (FER2013 / CK+), whose images are "
            "not redistributed by this repository. Run the notebook to see it.*")


def withhold_dataset_faces(nb) -> int:
    """Replace the pictures in the outputs of every ``dataset-faces`` cell of ``nb`` (in place) by
    :data:`WITHHELD`; printed text stays. Returns the number of pictures removed."""
    import nbformat

    removed = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or FACES_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        kept, notice = [], False
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if out.get("output_type") in ("display_data", "execute_result") and any(k.startswith("image/")
                                                                                   for k in data):
                removed += 1
                if not notice:
                    kept.append(nbformat.v4.new_output("display_data", data={"text/markdown": WITHHELD}))
                    notice = True
                continue
            kept.append(out)
        cell.outputs = kept
    return removed


def render(notebook: Path, out_dir: Path, timeout: int = 1800) -> Path:
    """Execute ``notebook`` (kernel working directory: its folder) and write ``out_dir/<stem>.md`` + figures."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import MarkdownExporter

    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    withhold_dataset_faces(nb)
    files = {"output_files_dir": f"{notebook.stem}_files"}
    body, resources = MarkdownExporter().from_notebook_node(nb, resources=files)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        staged = Path(tmp)
        (staged / f"{notebook.stem}.md").write_text(body, encoding="utf-8")
        for name, data in resources.get("outputs", {}).items():
            (staged / name).parent.mkdir(parents=True, exist_ok=True)
            (staged / name).write_bytes(data)
        figures = out_dir / f"{notebook.stem}_files"
        shutil.rmtree(figures, ignore_errors=True)
        if (staged / f"{notebook.stem}_files").is_dir():
            os.replace(staged / f"{notebook.stem}_files", figures)
        os.replace(staged / f"{notebook.stem}.md", out_dir / f"{notebook.stem}.md")
    return out_dir / f"{notebook.stem}.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", help="notebook numbers or stems to render (default all)")
    parser.add_argument("--data", help="FER_DATA for the notebooks (default: found automatically)")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="output folder (default docs/)")
    args = parser.parse_args(argv)
    os.environ["FER_QUICK"] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")
    if args.data:
        os.environ["FER_DATA"] = str(Path(args.data).resolve())
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [p for p in notebooks if any(p.stem == o or p.stem.startswith(f"{o}_") for o in args.only)]
        if not notebooks:
            print(f"render_notebooks: error: no notebook matches {args.only}", file=sys.stderr)
            return 2
    for nb in notebooks:
        print(f"rendering {nb.name} ...", flush=True)
        print(f"  wrote {render(nb, Path(args.out))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
