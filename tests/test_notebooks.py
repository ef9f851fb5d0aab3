"""Structure of the course notebooks (pure JSON checks, no kernel): see the notebook conventions in README.md.

Every ``notebooks/NN_topic.ipynb`` must be committed with stripped outputs, open with a Colab badge that links
to its own path, have the Colab-only install cell as its first code cell, and keep its knobs in exactly one
cell tagged ``parameters`` that reads ``FER_QUICK``. The numbering is contiguous, 01 to 10.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
NAME_PATTERN = re.compile(r"^(\d{2})_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")
COLAB_URL = "https://colab.research.google.com/github/fer-course/fer/blob/main/notebooks/{name}"
EXPECTED_NUMBERS = list(range(1, 11))
STRIP_HINT = "strip it before committing: python -m nbconvert --clear-output --inplace notebooks/{name}"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def by_name(paths):
    return pytest.mark.parametrize("path", paths, ids=[p.name for p in paths])


def test_numbering_is_contiguous_01_to_10():
    names = [p.name for p in NOTEBOOKS]
    bad = [n for n in names if not NAME_PATTERN.match(n)]
    assert not bad, f"notebook names must look like NN_topic.ipynb (lower case, underscores): {bad}"
    numbers = [int(NAME_PATTERN.match(n).group(1)) for n in names]
    duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
    assert not duplicated, f"notebook numbers used twice: {duplicated} in {names}"
    assert numbers == EXPECTED_NUMBERS, (
        f"notebooks must be numbered 01..10 without gaps; found {[f'{n:02d}' for n in numbers]} ({names})")


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
    for i, cell in enumerate(code_cells(load(path))):
        assert cell.get("outputs") == [], (
            f"{path.name}: code cell {i} has {len(cell.get('outputs', []))} output(s); "
            + STRIP_HINT.format(name=path.name))
        assert cell.get("execution_count") is None, (
            f"{path.name}: code cell {i} has execution_count {cell.get('execution_count')}; "
            + STRIP_HINT.format(name=path.name))


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
    assert len(tagged) == 1, (f"{path.name}: {len(tagged)} cells are tagged 'parameters' (cells {tagged}); "
                              "need exactly one")
    cell = nb["cells"][tagged[0]]
    assert cell["cell_type"] == "code", f"{path.name}: the 'parameters' cell must be a code cell"
    assert "FER_QUICK" in source(cell), f"{path.name}: the parameters cell must read os.environ['FER_QUICK']"
    first_code = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    assert tagged[0] > first_code, f"{path.name}: the parameters cell must come after the Colab install cell"


def test_checks_find_the_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"
