"""Imports flow one way: no cycle between a package's modules, and no import of a project module hidden
inside a function or class body (which is how cycles hide). Read from the source with `ast`, never imported.

Add a package to PACKAGES to hold it to the same rule.
"""
import ast
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["fasttok", "lm"]


def module_files(root, package):
    """{module name: path} of every module of `package` under `root`: .py files, and the compiled
    modules' .pyx sources (nodes that import nothing here: a cimport is resolved by the compiler)."""
    out = {}
    for path in sorted([*(root / package).rglob("*.py"), *(root / package).rglob("*.pyx")]):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(node, module, is_package, modules):
    """The project modules an import node names. `from p import m` names the module p.m when there is
    one (and p itself only for names that are not modules), as Python resolves it."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".")
        base = base[:len(base) - node.level + (1 if is_package else 0)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module
    submodules = [f"{prefix}.{alias.name}" for alias in node.names]
    return [m for m in submodules if m in modules] or [prefix]


def _is_type_checking(node):
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
           (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def scan(root, package):
    """(graph {module: set of project modules it imports at top level}, [(module, line, target)] of
    imports of project modules inside a def or class body)."""
    files = module_files(root, package)
    graph = {name: set() for name in files}
    nested = []

    def visit(node, module, is_package, depth):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # imports for type checkers only never run
            inner = depth + isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                targets = [t for t in _resolve(child, module, is_package, files) if t in files and t != module]
                for target in dict.fromkeys(targets):
                    if depth:
                        nested.append((module, child.lineno, target))
                    else:
                        graph[module].add(target)
            visit(child, module, is_package, inner)

    for name, path in files.items():
        if path.suffix != ".py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        visit(tree, name, path.name == "__init__.py", 0)
    return graph, nested


def find_cycles(graph):
    """Each cycle once, as a list of modules (the strongly connected components with more than one
    module, or a module importing itself), by Tarjan's algorithm."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def strongconnect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
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
            if len(component) > 1 or v in graph.get(v, ()):
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return cycles


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    graph, _ = scan(ROOT, package)
    assert find_cycles(graph) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_local_imports_of_the_project(package):
    _, nested = scan(ROOT, package)
    assert nested == [], "import these at the top of the module: " + ", ".join(
        f"{module}:{line} -> {target}" for module, line, target in nested)


def test_the_checks_can_fail(tmp_path):
    # A tiny package with a cycle through a relative import and an import inside a function.
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "from . import b\n",
        "pkg/b.py": "from pkg.c import thing\n",
        "pkg/c.py": "import pkg.a\nthing = 1\n",
        "pkg/d.py": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from pkg import e
            def f():
                from .a import b
                import json
                return b, json
            """,
        "pkg/e.py": "import pkg.d\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    graph, nested = scan(tmp_path, "pkg")
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]   # d <-> e is only for type checkers
    assert nested == [("pkg.d", 6, "pkg.a")]
    assert graph["pkg.e"] == {"pkg.d"} and graph["pkg.d"] == set()
