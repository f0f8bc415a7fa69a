"""Every ``.sql`` file of lib/segmentation, lib/ml and lib/reports is loaded by a module beside it,
with exactly the parts its placeholders name, and holds one statement (or one expression fragment)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import duckdb
import pytest

import shopverse_platform
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql

LIB = Path(shopverse_platform.__file__).parent / "lib"
PACKAGES = ("segmentation", "ml", "reports")
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
STATEMENT = re.compile(r"^\s*(SELECT|WITH|CREATE|DROP|SET|INSERT)\b", re.I)


def _calls(package: str) -> dict[str, list[set[str]]]:
    """``load_sql(__file__, "<name>", **parts)`` calls of the package's modules: name -> the part names of each call."""
    calls: dict[str, list[set[str]]] = {}
    for module in sorted((LIB / package).glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_sql":
                first, name = node.args[0], node.args[1]
                assert isinstance(first, ast.Name) and first.id == "__file__", f"{module.name}: load_sql not on __file__"
                assert isinstance(name, ast.Constant), f"{module.name}: load_sql with a computed name"
                calls.setdefault(name.value, []).append({k.arg for k in node.keywords})
    return calls


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


FILES = [(package, path) for package in PACKAGES for path in sorted((LIB / package).glob("*.sql"))]


def test_the_packages_have_sql_files():
    assert {package for package, _ in FILES} == set(PACKAGES)


@pytest.mark.parametrize(("package", "path"), FILES, ids=[f"{p}/{f.name}" for p, f in FILES])
def test_each_file_is_loaded_with_its_parts_and_holds_one_statement(package, path):
    calls = _calls(package)
    assert path.stem in calls, f"{package}/{path.name} is loaded by no module of lib/{package}"
    placeholders = set(PLACEHOLDER.findall(path.read_text()))
    for parts in calls[path.stem]:
        assert parts == placeholders, f"{path.name}: a call passes {sorted(parts)}, the file names {sorted(placeholders)}"
    # Fill each placeholder as a part would: a table name after TABLE or INTO, else a subquery or fragment.
    text = path.read_text()
    filled = {name: SqlText("_part" if re.search(r"(TABLE\s+(IF\s+EXISTS\s+)?(temp\.main\.)?|INTO\s+)\{\{\s*" + name + r"\s*\}\}", text) else "(SELECT 1)")
              for name in placeholders}
    loaded = load_sql(path, path.stem, **filled)
    body = _strip_comments(loaded)
    if STATEMENT.match(body):
        assert len(duckdb.connect().extract_statements(loaded)) == 1, f"{path.name}: one statement per file"
    else:  # an expression fragment, spliced into a statement
        duckdb.connect().extract_statements(f"SELECT {body} FROM (SELECT 1 AS future_orders, 1.0 AS future_revenue) l")


def test_no_module_loads_a_file_that_is_missing():
    for package in PACKAGES:
        for name in _calls(package):
            assert (LIB / package / f"{name}.sql").is_file(), f"lib/{package} loads {name}.sql, which does not exist"
