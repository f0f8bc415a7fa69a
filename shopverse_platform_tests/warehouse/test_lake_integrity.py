"""`shopverse warehouse check` (lib/warehouse/integrity.py): a whole lake says so; a catalog with a
damaged page, and a data file gone, are each named, with exit status 1."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import textwrap

import pytest

from shopverse_platform.cli.warehouse import add_warehouse_commands
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse import lake
from shopverse_platform.lib.warehouse.integrity import check_lake


def _check(monkeypatch, capsys, setting: str) -> tuple[int, str]:
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", setting)
    parser = argparse.ArgumentParser()
    add_warehouse_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["warehouse", "check"])
    code = args.func(args)
    return code, capsys.readouterr().out


@pytest.fixture
def small_lake(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    catalog = tmp_path / "shop" / "shopverse.sqlite"
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        con.execute("CREATE TABLE orders AS SELECT range AS order_id FROM range(1000)")
        con.execute("CREATE TABLE days AS SELECT range AS day FROM range(3)")
        con.execute("DELETE FROM orders WHERE order_id < 10")  # a delete file beside the data file
    lake.release_instances()
    yield catalog
    lake.release_instances()


def test_a_whole_lake_is_whole(small_lake, monkeypatch, capsys):
    result = check_lake(lake.parse_location(f"ducklake:sqlite:{small_lake}"))
    listed = len(list((small_lake.parent / "shopverse.files").rglob("*.parquet")))
    assert result.whole and result.catalog_checked
    assert result.files_listed == listed == 3, "orders' data and delete files, days' data file"
    code, out = _check(monkeypatch, capsys, f"ducklake:sqlite:{small_lake}")
    assert code == 0 and "catalog       ok" in out and "3 of 3 present" in out


def test_a_missing_data_file_is_named(small_lake, monkeypatch, capsys):
    gone = sorted((small_lake.parent / "shopverse.files").rglob("*.parquet"))[0]
    gone.unlink()
    result = check_lake(lake.parse_location(f"ducklake:sqlite:{small_lake}"))
    assert not result.whole and result.files_missing == [str(gone)]
    code, out = _check(monkeypatch, capsys, f"ducklake:sqlite:{small_lake}")
    assert code == 1 and f"missing: {gone}" in out


def test_a_damaged_catalog_is_named_without_loading_the_lake(small_lake, tmp_path, monkeypatch, capsys):
    damaged = tmp_path / "damaged" / "shopverse.sqlite"
    damaged.parent.mkdir()
    shutil.copy(small_lake, damaged)
    data = bytearray(damaged.read_bytes())
    page = 4096
    data[page * 2 + 8: page * 2 + 4096] = b"\xff" * (4096 - 8)  # the third page's cells overwritten
    damaged.write_bytes(bytes(data))
    result = check_lake(lake.parse_location(f"ducklake:sqlite:{damaged}"))
    assert not result.whole and result.catalog_problems and result.files_listed == 0
    code, out = _check(monkeypatch, capsys, f"ducklake:sqlite:{damaged}")
    assert code == 1 and "catalog       damaged" in out


# The damage found in session 24, made on purpose in a process of its own: the catalog's metadata
# table pointed at the snapshots' b-tree, so it reads their rows.
POINT_METADATA_AT_SNAPSHOTS = textwrap.dedent("""
    import sqlite3, sys
    catalog = sqlite3.connect(sys.argv[1])
    (snapshots,) = catalog.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ducklake_snapshot'").fetchone()
    catalog.execute("PRAGMA writable_schema = ON")
    catalog.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'ducklake_metadata'", [snapshots])
    catalog.commit()
    catalog.close()
""")


def test_a_catalog_whose_metadata_reads_the_snapshots_rows_is_named(small_lake, tmp_path, monkeypatch, capsys):
    damaged = tmp_path / "swapped" / "shopverse.sqlite"
    damaged.parent.mkdir()
    shutil.copy(small_lake, damaged)
    subprocess.run([sys.executable, "-c", POINT_METADATA_AT_SNAPSHOTS, str(damaged)], check=True, timeout=60)
    with pytest.raises(Exception, match="Invalid type in column"):  # what a run met
        with Warehouse(path=f"ducklake:sqlite:{damaged}").connect(read_only=True) as con:
            con.execute("SELECT 1").fetchall()
    result = check_lake(lake.parse_location(f"ducklake:sqlite:{damaged}"))
    # two tables on one b-tree: SQLite's own check names the page referenced twice
    assert any("2nd reference to page" in problem for problem in result.catalog_problems), result.catalog_problems
    code, out = _check(monkeypatch, capsys, f"ducklake:sqlite:{damaged}")
    assert code == 1 and "catalog       damaged" in out and "2nd reference to page" in out
