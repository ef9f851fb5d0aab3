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


DRAWS = re.compile(r"\b(imshow|plot_samples|plot_grad_cam|plot_attention)\(")
DATASET_PIXELS = re.compile(r"\.images\b(?!\[[^\]]*\]\.mean\()")  # a class mean is not a face of the dataset
ASSIGNED_FROM_PIXELS = re.compile(r"^(\w+)\s*=.*\.images\b", re.MULTILINE)


def dataset_face_cells(nb: dict) -> list[int]:
    """Indexes of the code cells that draw faces of the dataset: ``plot_samples``, or a drawing call in a cell that
    uses a dataset's ``.images`` or a name assigned from them earlier in the notebook (not a class mean)."""
    names, found = set(), []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = source(cell)
        names |= set(ASSIGNED_FROM_PIXELS.findall(src))
        uses = DATASET_PIXELS.search(src) or any(re.search(rf"\b{n}\b", src) for n in names)
        if "plot_samples(" in src or (DRAWS.search(src) and uses):
            found.append(i)
    return found


@by_name(NOTEBOOKS)
def test_cells_that_draw_dataset_faces_are_tagged_so_the_published_copy_withholds_them(path):
    """FER2013 / CK+ images are not redistributed: tools/render_notebooks.py drops the pictures of cells tagged
    ``dataset-faces`` from docs/; a new figure of dataset faces without the tag would be published."""
    nb = load(path)
    untagged = [i for i in dataset_face_cells(nb)
                if "dataset-faces" not in nb["cells"][i].get("metadata", {}).get("tags", [])]
    assert not untagged, f"{path.name}: cells {untagged} draw dataset faces; tag them 'dataset-faces'"


def test_the_published_copy_keeps_the_text_of_a_tagged_cell_and_drops_its_pictures():
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location("render_notebooks",
                                                  NOTEBOOKS_DIR.parent / "tools" / "render_notebooks.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    png = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    faces = nbformat.v4.new_code_cell("plot_samples(ds)", metadata={"tags": [render.FACES_TAG]}, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="true labels: happy\n"),
        nbformat.v4.new_output("display_data", data=png),
        nbformat.v4.new_output("display_data", data=png)])
    curve = nbformat.v4.new_code_cell("plot_history(h)", outputs=[nbformat.v4.new_output("display_data", data=png)])
    nb = nbformat.v4.new_notebook(cells=[faces, curve])
    assert render.withhold_dataset_faces(nb) == 2
    kinds = [(o["output_type"], sorted(o.get("data", {}))) for o in nb.cells[0].outputs]
    assert kinds == [("stream", []), ("display_data", ["text/markdown"])]  # the text, then one notice
    assert "not published" in nb.cells[0].outputs[1]["data"]["text/markdown"]
    assert nb.cells[1].outputs[0]["data"] == png  # an untagged figure is published
