"""The modules of fer/ import each other without a cycle (the graph of their top-level imports is acyclic)."""

from __future__ import annotations

import ast
from pathlib import Path

import fer

ROOT = Path(fer.__file__).resolve().parent


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """``{"fer.inference.classifier": path, "fer.inference": path/__init__.py, ...}`` for every module."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: module level, also inside ``try`` / ``if`` / ``with``,
    but not inside functions, classes or ``if TYPE_CHECKING:``."""
    found: list = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                    visit(block)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(tree.body)
    return found


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The ``fer`` modules whose code runs when module ``name`` is imported, before ``name`` finishes.

    ``import a.b.c`` / ``from a.b import c`` run ``a.b.c`` (when it is a module) and every package
    above it that is not already being imported (the packages above ``name`` itself are).
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in top_level_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        targets.add(base)
        targets.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules)
    own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)} | {name}
    edges = set()
    for target in targets:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in modules and prefix not in own_packages:
                edges.add(prefix)
    return edges


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = module_files(root)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle ``[a, b, ..., a]`` of ``graph``, or ``None`` when it is acyclic (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_fer_has_no_import_cycle():
    graph = import_graph()
    assert "fer.inference.runtimes" in graph and "fer.export" in graph  # the walk saw the modules
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_export_uses_the_inference_runtimes_and_not_the_other_way():
    graph = import_graph()
    assert "fer.inference.runtimes" in graph["fer.export"]
    for name, path in module_files().items():
        if name == "fer.inference" or name.startswith("fer.inference."):
            anywhere = [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))  # lazy imports too
                        if isinstance(n, (ast.Import, ast.ImportFrom))]
            named = {a.name for n in anywhere if isinstance(n, ast.Import) for a in n.names}
            named |= {n.module for n in anywhere if isinstance(n, ast.ImportFrom) and n.module}
            assert not {"fer.export", "fer.evaluate"} & named, f"{name} imports fer.export / fer.evaluate"


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root / "pkg"


def test_the_walk_finds_a_cycle_through_a_package_init_and_ignores_lazy_imports(tmp_path):
    root = _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.sub.b import thing\n\ndef later():\n    import pkg.c\n",
        "pkg/sub/__init__.py": "from pkg.sub import b\nfrom . import d\n",
        "pkg/sub/b.py": "thing = 1\n",
        "pkg/sub/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.c\n"
                        "try:\n    import pkg.a\nexcept ImportError:\n    pass\n",
        "pkg/c.py": "import pkg.a\n",
    })
    graph = import_graph(root)
    assert graph["pkg.a"] == {"pkg.sub", "pkg.sub.b"}  # importing pkg.sub.b runs pkg/sub/__init__ first
    assert graph["pkg.sub"] == {"pkg.sub.b", "pkg.sub.d"}  # its own package is not an edge
    assert graph["pkg.sub.d"] == {"pkg.a"}  # TYPE_CHECKING imports do not run
    assert find_cycle(graph) == ["pkg.a", "pkg.sub", "pkg.sub.d", "pkg.a"]
    (root / "sub" / "d.py").write_text("")
    assert find_cycle(import_graph(root)) is None
