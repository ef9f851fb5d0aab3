"""Executed copies of the notebooks for readers on GitHub: ``docs/NN_topic.md`` with its figures as PNGs.

The committed notebooks stay stripped (no outputs in git). This runs each one top to bottom in quick mode
(``FER_QUICK=1``) on the real data when it is found, so the learner's own runs are the quick ones while every
full-scale number and figure comes from the committed results (the architecture study, the shipped models),
never from retraining, and writes a Markdown copy with its outputs::

    python tools/render_notebooks.py                       # all notebooks, data found automatically
    python tools/render_notebooks.py 08 03 --data ../shared/data/fer2013/fer2013.csv.gz

Each copy is written to a temporary folder and moved into ``docs/`` only when the notebook ran without error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render(notebook: Path, out_dir: Path, timeout: int = 1800) -> Path:
    """Execute ``notebook`` (kernel working directory: its folder) and write ``out_dir/<stem>.md`` + figures."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import MarkdownExporter

    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
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
