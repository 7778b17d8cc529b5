"""The package's layering, as README.md ("Development") draws it: every import between the project's modules
(top-level and function-level alike) runs downward or stays inside its layer, and no modules import each
other in a cycle, directly or through others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Source folders and the package each installs as (pyproject.toml's package-dir).
FOLDERS = {"audit": "audit", "model": "audit.model", "templates": "audit.templates"}

#: The layers, lowest first: a module may import modules of its own layer and of the layers below it.
#: A layer is a list of module-name prefixes; the longest matching prefix decides a module's layer.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("audit", "audit.errors", "audit.atomic", "audit.hashing", "audit.versions", "audit.extras",
                    "audit.thumbnails", "audit.templates")),
    ("predictions", ("audit.predictions",)),
    ("metrics", ("audit.metrics",)),
    ("sources and the audit.json contract", ("audit.sources", "audit.result")),
    ("the model side and the engine", ("audit.model", "audit.robustness", "audit.engine")),
    ("the verdict", ("audit.gate",)),
    ("renderers and the history store", ("audit.render", "audit.history")),
    ("the library", ("audit.pipeline", "audit.audit_result", "audit.gating")),
    ("the command line", ("audit.cli", "audit.commands", "audit.__main__")),
]


def module_files() -> dict[str, Path]:
    """Module name -> file, for every module of the installed package."""
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[tuple[str, int]]:
    """(imported project module, line) for every import statement in ``path``, wherever it stands."""
    out = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for target in targets:
            while target and target not in modules:  # `import audit.x.y as z` names a module; trim attributes
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add((target, node.lineno))
    return out


def import_graph() -> dict[str, set[tuple[str, int]]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def layer_of(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    if rank is None:
        raise AssertionError(f"module {module} is in no layer; add it to LAYERS and to README's drawing")
    return rank


def upward_imports(graph) -> list[str]:
    return sorted(f"{src}:{line} imports {dst} ({LAYERS[layer_of(src)][0]} -> {LAYERS[layer_of(dst)][0]})"
                  for src, edges in graph.items() for dst, line in edges if layer_of(dst) > layer_of(src))


def cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    succ = {k: sorted({d for d, _ in v}) for k, v in graph.items()}

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in succ.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(succ):
        if v not in index:
            visit(v)
    return sorted(found)


def test_every_module_has_a_layer():
    for module in module_files():
        layer_of(module)


def test_no_upward_imports():
    upward = upward_imports(import_graph())
    assert upward == [], "imports that run upward:\n" + "\n".join(upward)


def test_no_import_cycles():
    found = cycles(import_graph())
    assert found == [], "modules that import each other in a cycle:\n" + "\n".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {("b", 1)}, "b": {("a", 2)}, "c": set()}, [["a", "b"]]),
    ({"a": {("b", 1)}, "b": {("c", 1)}, "c": {("a", 1)}, "d": {("a", 1)}}, [["a", "b", "c"]]),
    ({"a": {("b", 1)}, "b": set()}, []),
])
def test_cycle_finder(graph, expected):
    assert cycles(graph) == expected
