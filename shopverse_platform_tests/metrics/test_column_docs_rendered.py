"""docs/metrics.md carries the column documentation of lib/warehouse/columns.toml, rendered by
scripts/render_column_docs.py, and it is up to date."""

import importlib.util
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("render_column_docs", ROOT / "scripts" / "render_column_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_section_is_the_rendering_of_columns_toml():
    script = _script()
    assert script.current() == script.render(), "docs/metrics.md is out of date: run scripts/render_column_docs.py"
    assert script.main(["--check"]) == 0


def test_every_documented_column_is_in_the_docs_with_its_description():
    docs = tomllib.loads((ROOT / "shopverse_platform" / "lib" / "warehouse" / "columns.toml").read_text())
    section = _script().current()
    for table, columns in docs.items():
        block = section.split(f"#### `{table}`\n", 1)[1].split("####", 1)[0]
        rows = [line for line in block.splitlines() if line.startswith("| `")]
        assert rows == [f"| `{c}` | {d.replace('|', chr(92) + '|')} |" for c, d in columns.items()], table


def test_check_fails_when_a_description_changes(tmp_path, monkeypatch, capsys):
    script = _script()
    changed = tmp_path / "columns.toml"
    changed.write_text(script.COLUMNS_FILE.read_text().replace('"UTC day of event_ts."', '"The UTC day of event_ts."'))
    monkeypatch.setattr(script, "COLUMNS_FILE", changed)
    assert script.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().out
