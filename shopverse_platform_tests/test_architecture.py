"""The direction rule of docs/architecture.md, enforced: the import-linter contracts in pyproject.toml
hold, and no module of the package takes part in an import cycle (imports inside functions count)."""

from __future__ import annotations

import subprocess
import sys

import grimp

from shopverse_platform.lib.paths import PROJECT_ROOT


def test_import_contracts_hold():
    lint = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"],
        cwd=PROJECT_ROOT, capture_output=True, text=True,
    )
    assert lint.returncode == 0, lint.stdout[-4000:] + lint.stderr[-2000:]
    assert "0 broken" in lint.stdout


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[tuple[str, ...]]:
    """One chain per import edge a -> b for which b leads back to a."""
    found = []
    for importer in sorted(modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported in modules:
                back = graph.find_shortest_chain(importer=imported, imported=importer)
                if back:
                    found.append((importer, *back))
    return found


def test_no_import_cycles():
    graph = grimp.build_graph("shopverse_platform")
    # A package imports its own submodules when Python loads them; that is not a cycle of code.
    modules = {m for m in graph.modules if not graph.find_children(m)}
    assert _cycles(graph, modules) == []


def test_cycle_detection_sees_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph, {"pkg.a", "pkg.b", "pkg.c"})[0] == ("pkg.a", "pkg.b", "pkg.c", "pkg.a")
