"""No import circles in rig/ (nor in the test support modules): every ``import`` and ``from ... import`` counts,
at module level and inside functions alike; only imports under ``if TYPE_CHECKING:`` (never run) are left out.

A circle is found on the graph the source states (``ast``), not by importing, so a circle that only a lazy import
closes fails here too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    """``rig/run/phases.py`` -> ``rig.run.phases``; ``tests/support/x.py`` -> ``support.x`` (tests/ is on the path)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "tests":
        parts.pop(0)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement outside ``if TYPE_CHECKING:`` blocks."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(roots: tuple[str, ...] = ("rig", "tests/support")) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports. ``from a.b import c`` is an edge to ``a.b.c`` if that is a module of
    ours, else to ``a.b``; relative imports are resolved against the importing module's package."""
    files = {module_name(p): p for root in roots for p in (ROOT / root).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base for alias in node.names]
            edges.update(t for t in targets if t in files and t != name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_checker_finds_a_circle_it_is_shown():
    """The detector itself: a stated three-module circle (one import inside a function) is found, a chain is not."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    tree = ast.parse("def f():\n    import rig.x\nif TYPE_CHECKING:\n    import rig.y\n")
    assert [ast.unparse(n) for n in _runtime_imports(tree)] == ["import rig.x"]


def test_rig_has_no_import_circles():
    graph = import_graph()
    assert len(graph) > 100 and graph["rig.run.lifecycle"]  # the walk saw the package and its imports
    assert cycles(graph) == []
