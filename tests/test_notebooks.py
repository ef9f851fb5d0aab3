"""Structure of the course notebooks (pure JSON checks, no kernel): see the notebook conventions in README.md.

Every ``notebooks/NN_topic.ipynb`` must be committed with stripped outputs (except the ``# NBVAL_CHECK_OUTPUT``
cells, which keep the outputs nbval compares; ``tools/notebook_outputs.py`` maintains both), open with a Colab
badge that links to its own path, have the Colab-only install cell as its first code cell, and keep its knobs in
exactly one cell tagged ``parameters`` that reads ``FER_QUICK``. The numbering is contiguous, 01 to 09.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
NAME_PATTERN = re.compile(r"^(\d{2})_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")
COLAB_URL = "https://colab.research.google.com/github/fer-course/fer/blob/main/notebooks/{name}"
EXPECTED_NUMBERS = list(range(1, 10))
STRIP_HINT = "strip it before committing: python tools/notebook_outputs.py strip notebooks/{name}"
REFRESH_HINT = "store them with: python tools/notebook_outputs.py refresh notebooks/{name}"
CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def is_checked(cell: dict) -> bool:
    """A code cell whose first line is the nbval marker: nbval --nbval-lax compares its stored outputs."""
    lines = source(cell).splitlines()
    return cell["cell_type"] == "code" and bool(lines) and lines[0].strip() == CHECK_MARKER


def load_tool():
    """tools/notebook_outputs.py is a script, not part of the package: import it from its path."""
    spec = importlib.util.spec_from_file_location("notebook_outputs", ROOT / "tools" / "notebook_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def by_name(paths):
    return pytest.mark.parametrize("path", paths, ids=[p.name for p in paths])


def test_numbering_is_contiguous_01_to_09():
    names = [p.name for p in NOTEBOOKS]
    bad = [n for n in names if not NAME_PATTERN.match(n)]
    assert not bad, f"notebook names must look like NN_topic.ipynb (lower case, underscores): {bad}"
    numbers = [int(NAME_PATTERN.match(n).group(1)) for n in names]
    duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
    assert not duplicated, f"notebook numbers used twice: {duplicated} in {names}"
    assert numbers == EXPECTED_NUMBERS, (
        f"notebooks must be numbered 01..09 without gaps; found {[f'{n:02d}' for n in numbers]} ({names})")


@by_name(NOTEBOOKS)
def test_is_a_valid_notebook_with_a_python3_kernel(path):
    nb = load(path)
    assert nb.get("nbformat") == 4, f"{path.name}: nbformat must be 4, got {nb.get('nbformat')}"
    kernel = nb.get("metadata", {}).get("kernelspec", {}).get("name")
    assert kernel == "python3", f"{path.name}: kernelspec name must be 'python3' (nbval starts it), got {kernel!r}"
    for i, cell in enumerate(nb["cells"]):
        assert cell["cell_type"] in ("markdown", "code", "raw"), f"{path.name}: cell {i} has type {cell['cell_type']!r}"


@by_name(NOTEBOOKS)
def test_outputs_are_stripped(path):
    for i, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] != "code":
            continue
        if is_checked(cell):
            assert cell.get("metadata", {}).get("keep_output") is True, (
                f"{path.name}: cell {i} starts with {CHECK_MARKER} but lacks metadata keep_output: true "
                "(nbstripout would drop its outputs); " + STRIP_HINT.format(name=path.name))
            continue
        assert cell.get("outputs") == [], (
            f"{path.name}: code cell {i} has {len(cell.get('outputs', []))} output(s) but does not start with "
            f"{CHECK_MARKER}; " + STRIP_HINT.format(name=path.name))
        assert cell.get("execution_count") is None, (
            f"{path.name}: code cell {i} has execution_count {cell.get('execution_count')}; "
            + STRIP_HINT.format(name=path.name))
        assert not cell.get("metadata", {}).get("keep_output"), (
            f"{path.name}: code cell {i} has keep_output but no {CHECK_MARKER} line; "
            + STRIP_HINT.format(name=path.name))


@by_name(NOTEBOOKS)
def test_checked_cells_have_stored_outputs(path):
    """nbval compares a checked cell against its stored outputs; with none stored it compares nothing, and a
    cell without an execution count counts as never run (nbval then rejects stored outputs)."""
    for i, cell in enumerate(load(path)["cells"]):
        if not is_checked(cell):
            continue
        assert cell.get("outputs"), (
            f"{path.name}: cell {i} starts with {CHECK_MARKER} but has no stored outputs, so nbval checks "
            "nothing; " + REFRESH_HINT.format(name=path.name))
        assert isinstance(cell.get("execution_count"), int), (
            f"{path.name}: cell {i} has stored outputs but execution_count {cell.get('execution_count')!r}; "
            "nbval treats it as never run; " + REFRESH_HINT.format(name=path.name))
        streams = [o.get("name") for o in cell["outputs"] if o.get("output_type") == "stream"]
        assert set(streams) <= {"stdout"}, (
            f"{path.name}: cell {i} stores {streams} streams; only stdout is kept; "
            + REFRESH_HINT.format(name=path.name))


def test_strip_keeps_only_the_checked_cells_outputs():
    tool = load_tool()

    def stream(name, text):
        return {"name": name, "output_type": "stream", "text": text}

    png = {"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure size 640x480 with 1 Axes>"]}
    nb = {
        "cells": [
            {"cell_type": "markdown", "id": "m", "metadata": {}, "source": ["# title"]},
            {"cell_type": "code", "execution_count": 7, "id": "a", "metadata": {"execution": {"t": "0"}},
             "outputs": [stream("stdout", "noise\n")], "source": ["print('noise')"]},
            {"cell_type": "code", "execution_count": 8, "id": "b", "metadata": {"scrolled": True},
             "outputs": [stream("stdout", "0 angry\n"), stream("stderr", "a warning\n"),
                         stream("stdout", "1 disgust\n"),
                         {"data": png, "metadata": {"needs_background": "light"}, "output_type": "display_data"},
                         {"data": {"text/plain": ["7"], "text/html": ["<b>7</b>"]}, "execution_count": 8,
                          "metadata": {}, "output_type": "execute_result"}],
             "source": [CHECK_MARKER + "\n", "print('0 angry')"]},
            {"cell_type": "code", "execution_count": 9, "id": "c", "metadata": {"keep_output": True},
             "outputs": [stream("stdout", "x\n")], "source": ["x = 1  " + CHECK_MARKER + " not on the first line"]},
        ],
        "metadata": {"kernelspec": {"name": "python3"}, "widgets": {"state": {}},
                     "language_info": {"name": "python", "version": "3.11.7"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    before = json.dumps(nb)
    out = tool.strip_notebook(nb)

    assert json.dumps(nb) == before, "strip_notebook must not modify its argument"
    plain, checked, late_marker = out["cells"][1], out["cells"][2], out["cells"][3]
    assert plain["outputs"] == [] and plain["execution_count"] is None and plain["metadata"] == {}
    assert late_marker["outputs"] == [] and late_marker["execution_count"] is None and late_marker["metadata"] == {}
    assert checked["metadata"] == {"keep_output": True}
    assert checked["execution_count"] == 2, "a checked cell is numbered by its position among the code cells"
    assert checked["outputs"] == [
        {"name": "stdout", "output_type": "stream", "text": ["0 angry\n", "1 disgust\n"]},
        {"data": {"text/plain": ["<Figure size 640x480 with 1 Axes>"]}, "metadata": {}, "output_type": "display_data"},
        {"data": {"text/html": ["<b>7</b>"], "text/plain": ["7"]}, "execution_count": None, "metadata": {},
         "output_type": "execute_result"},
    ]
    assert out["metadata"] == {"kernelspec": {"name": "python3"}, "language_info": {"name": "python"}}
    assert tool.strip_notebook(out) == out, "stripping twice changes nothing"
    assert tool.dumps(out).endswith("}\n") and '"keep_output": true' in tool.dumps(out)


def test_strip_leaves_the_committed_notebooks_unchanged():
    tool = load_tool()
    for path in NOTEBOOKS:
        assert tool.dumps(tool.strip_notebook(load(path))) == path.read_text(encoding="utf-8"), (
            f"{path.name} is not in the stripped layout; " + STRIP_HINT.format(name=path.name))


@by_name(NOTEBOOKS)
def test_first_cell_is_a_title_with_a_colab_badge_to_itself(path):
    first = load(path)["cells"][0]
    text = source(first)
    assert first["cell_type"] == "markdown", f"{path.name}: the first cell must be the markdown title cell"
    assert text.lstrip().startswith("# "), f"{path.name}: the first cell must start with a '# ' title"
    assert "colab-badge.svg" in text, f"{path.name}: the title cell has no Colab badge"
    links = re.findall(r"\]\((https://colab\.research\.google\.com/[^)\s]+)\)", text)
    expected = COLAB_URL.format(name=path.name)
    assert expected in links, f"{path.name}: the Colab badge must link to {expected}, links found: {links}"


@by_name(NOTEBOOKS)
def test_first_code_cell_is_the_colab_only_install(path):
    cells = code_cells(load(path))
    assert cells, f"{path.name}: has no code cell"
    text = source(cells[0])
    assert re.search(r"""if\s+["']google\.colab["']\s+in\s+sys\.modules\s*:""", text), (
        f"{path.name}: the first code cell must be the Colab-only install guarded by "
        f"'if \"google.colab\" in sys.modules:', got:\n{text}")
    assert re.search(r"^\s+[!%]pip install", text, re.MULTILINE), (
        f"{path.name}: the Colab cell must install the package with an indented !pip / %pip inside the if")
    assert not re.search(r"^[!%]pip", text, re.MULTILINE), (
        f"{path.name}: a pip install outside the google.colab guard would run locally and in CI")


@by_name(NOTEBOOKS)
def test_exactly_one_parameters_cell_reading_fer_quick(path):
    nb = load(path)
    tagged = [i for i, c in enumerate(nb["cells"]) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells are tagged 'parameters' (cells {tagged}); need exactly one"
    cell = nb["cells"][tagged[0]]
    assert cell["cell_type"] == "code", f"{path.name}: the 'parameters' cell must be a code cell"
    assert "FER_QUICK" in source(cell), f"{path.name}: the parameters cell must read os.environ['FER_QUICK']"
    first_code = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    assert tagged[0] > first_code, f"{path.name}: the parameters cell must come after the Colab install cell"


def test_checks_find_the_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"
