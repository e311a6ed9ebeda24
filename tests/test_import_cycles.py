"""No import cycle among the modules of ``webapp``.

An import inside a function is a dependency all the same (it only runs later), so every import
counts except those under ``if TYPE_CHECKING:``, which never run. A cycle means two modules that
cannot be read, tested or moved one without the other; break it instead of deferring an import.
"""

from __future__ import annotations

import ast
from pathlib import Path

from config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "webapp"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[ast.AST]:
    skipped: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                skipped.update(ast.walk(statement))
    return skipped


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """The ``webapp`` modules *path* imports (``from package import module`` names the module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    found.add(f"{base}.{alias.name}")
                elif base in modules:
                    found.add(base)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: _with_packages(name, _imports(path, name, set(paths)), set(paths)) for name, path in paths.items()}


def _with_packages(name: str, imported: set[str], modules: set[str]) -> set[str]:
    """Importing ``a.b.c`` first runs ``a.b``'s ``__init__``: that import counts too (unless *name*
    is inside ``a.b`` itself, whose ``__init__`` is already running or done)."""
    own = {".".join(name.split(".")[:n]) for n in range(1, name.count(".") + 2)}
    packages = set()
    for target in imported:
        parts = target.split(".")
        packages |= {".".join(parts[:n]) for n in range(2, len(parts))} - own
    return imported | (packages & modules)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_webapp_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 50 and "webapp.models.calendar" in graph["webapp.models.event"]  # the graph is real
    assert cycles(graph) == []


def test_a_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
