"""Keep the stored outputs of the notebook cells that nbval compares; strip every other output.

The course notebooks are committed without outputs, except the deterministic cells whose source starts with
``# NBVAL_CHECK_OUTPUT`` (model shapes, parameter counts, label tables). Under ``pytest --nbval-lax`` nbval
compares exactly those cells against their *stored* outputs, so they must be committed with outputs:

* ``strip [NOTEBOOK ...]`` clears the outputs and execution counts of every other code cell, keeps the checked
  cells' outputs (stdout, and the ``text/plain`` / ``text/html`` of results and displays only), marks the
  checked cells ``keep_output: true`` (the flag nbstripout honours) and drops volatile metadata (timings,
  widget state, the kernel's Python version).
* ``refresh [NOTEBOOK ...]`` executes each notebook in quick mode (``FER_QUICK=1``, cwd ``notebooks/``) and
  stores the new outputs of the checked cells, then strips as above.

Without arguments both work on every ``notebooks/*.ipynb``. A checked cell keeps an execution count (its
position among the code cells, as in a top-to-bottom run): nbval treats a cell without one as never run and
refuses stored outputs on it. Files are rewritten only when they change, through a temporary file and a rename,
in the JSON layout Jupyter itself writes (indent 1, sorted keys, UTF-8 text, trailing newline).

    python tools/notebook_outputs.py strip
    python tools/notebook_outputs.py refresh notebooks/03_baseline_cnn.ipynb
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
KEPT_MIME_TYPES = ("text/plain", "text/html")
# Metadata that changes with every run or every machine (same spirit as nbstripout's defaults).
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled", "heading_collapsed", "hidden")
VOLATILE_NOTEBOOK_METADATA = ("widgets", "signature", "papermill")
REFRESH_ENV = {"FER_QUICK": "1", "MPLBACKEND": "Agg"}
CELL_TIMEOUT = 900  # seconds per cell
KERNEL_NAME = "python3"

Notebook = dict[str, Any]


def source_text(cell: dict[str, Any]) -> str:
    """The cell's source as one string (notebook files store it as a list of lines or a string)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def is_checked(cell: dict[str, Any]) -> bool:
    """True for a code cell whose first source line is ``# NBVAL_CHECK_OUTPUT``."""
    if cell.get("cell_type") != "code":
        return False
    lines = source_text(cell).splitlines()
    return bool(lines) and lines[0].strip() == CHECK_MARKER


def _as_lines(text: str | list[str]) -> list[str]:
    """Multi-line text in the notebook file layout: a list of lines, each but the last ending in a newline."""
    text = "".join(text) if isinstance(text, list) else text
    return text.splitlines(keepends=True)


def _coalesce_stdout(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge all stdout streams into the first one (nbval compares them merged anyway)."""
    merged: list[dict[str, Any]] = []
    stdout: dict[str, Any] | None = None
    for out in outputs:
        if out["output_type"] == "stream":
            if stdout is None:
                stdout = {"name": "stdout", "output_type": "stream", "text": "".join(out["text"])}
                merged.append(stdout)
            else:
                stdout["text"] += "".join(out["text"])
        else:
            merged.append(out)
    return merged


def clean_checked_outputs(outputs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The outputs of a checked cell reduced to what is stable and compared: stdout streams and the
    ``text/plain`` / ``text/html`` data of results and displays. stderr, errors, images and output
    metadata are dropped; an ``execute_result``'s execution count is set to None."""
    kept: list[dict[str, Any]] = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream" and out.get("name") == "stdout":
            kept.append({"name": "stdout", "output_type": "stream", "text": "".join(out.get("text", ""))})
        elif kind in ("execute_result", "display_data"):
            data = {mime: _as_lines(value) for mime, value in out.get("data", {}).items() if mime in KEPT_MIME_TYPES}
            if not data:
                continue
            cleaned: dict[str, Any] = {"data": data, "metadata": {}, "output_type": kind}
            if kind == "execute_result":
                cleaned["execution_count"] = None
            kept.append(cleaned)
    kept = _coalesce_stdout(kept)
    for out in kept:
        if out["output_type"] == "stream":
            out["text"] = _as_lines(out["text"])
    return [out for out in kept if out.get("text", True)]


def strip_notebook(nb: Notebook) -> Notebook:
    """Return a copy of ``nb`` with outputs only in checked cells (see the module docstring).

    Checked cells get ``metadata.keep_output = True`` and, when they have outputs, an execution count equal
    to their 1-based position among the code cells; every other code cell gets no outputs, execution count
    None and no ``keep_output`` flag. Volatile cell and notebook metadata is removed and ``language_info``
    is reduced to the language name.
    """
    nb = copy.deepcopy(nb)
    metadata = nb.setdefault("metadata", {})
    for key in VOLATILE_NOTEBOOK_METADATA:
        metadata.pop(key, None)
    if isinstance(metadata.get("language_info"), dict) and "name" in metadata["language_info"]:
        metadata["language_info"] = {"name": metadata["language_info"]["name"]}
    position = 0
    for cell in nb.get("cells", []):
        cell_meta = cell.setdefault("metadata", {})
        for key in VOLATILE_CELL_METADATA:
            cell_meta.pop(key, None)
        if cell.get("cell_type") != "code":
            continue
        position += 1
        if is_checked(cell):
            cell["outputs"] = clean_checked_outputs(cell.get("outputs", []))
            cell["execution_count"] = position if cell["outputs"] else None
            cell_meta["keep_output"] = True
        else:
            cell["outputs"] = []
            cell["execution_count"] = None
            cell_meta.pop("keep_output", None)
    return nb


def dumps(nb: Notebook) -> str:
    """Serialise a notebook the way Jupyter writes it (and the committed files are): indent 1, sorted keys,
    non-ASCII characters as they are, a trailing newline."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_notebook(path: Path) -> Notebook:
    """Load a notebook file as plain JSON; a clear error if it is missing or not a notebook."""
    if not path.is_file():
        raise SystemExit(f"{path}: no such notebook file (pass paths like notebooks/01_data_exploration.ipynb)")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SystemExit(f"{path}: not valid JSON ({err}); is it a Jupyter notebook?") from err
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SystemExit(f"{path}: not a Jupyter notebook (no 'cells' list)")
    return nb


def write_if_changed(path: Path, nb: Notebook) -> bool:
    """Write ``nb`` to ``path`` through a temporary file and a rename; skip it when the text is unchanged.
    Returns whether the file changed."""
    text = dumps(nb)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def execute_notebook(nb: Notebook, cwd: Path) -> Notebook:
    """Run every cell of a copy of ``nb`` with nbclient in quick mode and return the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    node = nbformat.reads(dumps(nb), as_version=4)  # joins the source line lists nbclient cannot execute
    client = NotebookClient(node, timeout=CELL_TIMEOUT, kernel_name=KERNEL_NAME,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute(env={**os.environ, **REFRESH_ENV})
    return json.loads(nbformat.writes(node))


def merge_checked_outputs(committed: Notebook, executed: Notebook, name: str = "notebook") -> Notebook:
    """Copy the outputs of the checked cells of ``executed`` into a copy of ``committed``, cell by cell."""
    merged = copy.deepcopy(committed)
    if len(executed["cells"]) != len(merged["cells"]):
        raise ValueError(f"{name}: the executed copy has {len(executed['cells'])} cells, the file "
                         f"{len(merged['cells'])}; was the file edited during the run? Run refresh again.")
    for i, (cell, ran) in enumerate(zip(merged["cells"], executed["cells"])):
        if cell.get("id") != ran.get("id") or source_text(cell) != source_text(ran):
            raise ValueError(f"{name}: cell {i} differs between the file and the executed copy; run refresh again")
        if is_checked(cell):
            cell["outputs"] = ran.get("outputs", [])
    return merged


def dropped_stderr(nb: Notebook) -> list[tuple[int, str]]:
    """(cell index, text) of the stderr streams of the checked cells, which strip drops."""
    found = []
    for i, cell in enumerate(nb["cells"]):
        if is_checked(cell):
            text = "".join("".join(out.get("text", "")) for out in cell.get("outputs", [])
                           if out.get("output_type") == "stream" and out.get("name") == "stderr")
            if text:
                found.append((i, text))
    return found


def notebook_paths(args: Sequence[str]) -> list[Path]:
    """The notebooks named on the command line, or every notebooks/*.ipynb."""
    paths = [Path(a) for a in args] if args else sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    if not paths:
        raise SystemExit(f"no notebooks found in {NOTEBOOKS_DIR}")
    bad = [str(p) for p in paths if p.suffix != ".ipynb"]
    if bad:
        raise SystemExit(f"not notebook files (.ipynb expected): {', '.join(bad)}")
    return paths


def cmd_strip(paths: Sequence[Path]) -> int:
    for path in paths:
        changed = write_if_changed(path, strip_notebook(read_notebook(path)))
        print(f"{path}: {'stripped' if changed else 'unchanged'}")
    return 0


def cmd_refresh(paths: Sequence[Path]) -> int:
    status = 0
    for path in paths:
        committed = read_notebook(path)
        checked = sum(is_checked(c) for c in committed["cells"])
        print(f"{path}: executing ({checked} checked cell(s)) ...", flush=True)
        start = time.monotonic()
        executed = execute_notebook(committed, cwd=path.resolve().parent)
        merged = merge_checked_outputs(committed, executed, name=str(path))
        for i, text in dropped_stderr(merged):
            status = 1
            print(f"{path}: WARNING checked cell {i} wrote to stderr; nbval compares stderr too, so this cell will "
                  f"fail under pytest until the message is silenced in the cell:\n{text}", file=sys.stderr)
        stripped = strip_notebook(merged)
        empty = [i for i, c in enumerate(stripped["cells"]) if is_checked(c) and not c["outputs"]]
        if empty:
            status = 1
            print(f"{path}: WARNING checked cell(s) {empty} print nothing, so nbval compares nothing there",
                  file=sys.stderr)
        changed = write_if_changed(path, stripped)
        print(f"{path}: {'updated' if changed else 'unchanged'} in {time.monotonic() - start:.0f} s", flush=True)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python tools/notebook_outputs.py",
        description="Strip notebook outputs except the '# NBVAL_CHECK_OUTPUT' cells that nbval compares, "
                    "or re-run notebooks to refresh those cells' stored outputs.")
    sub = parser.add_subparsers(dest="command", required=True)
    strip = sub.add_parser("strip", help="clear all outputs except those of the checked cells (no kernel needed)")
    strip.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="notebook files (default: notebooks/*.ipynb)")
    refresh = sub.add_parser(
        "refresh", help="execute the notebooks with FER_QUICK=1 and store the checked cells' outputs")
    refresh.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                         help="notebook files (default: notebooks/*.ipynb); they run one after another")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    paths = notebook_paths(args.notebooks)
    return cmd_strip(paths) if args.command == "strip" else cmd_refresh(paths)


if __name__ == "__main__":
    sys.exit(main())
