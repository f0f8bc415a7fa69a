"""`shopverse warehouse migrate` from a lake (lib/warehouse/migrate.py, ``migrate_lake_to_lake``):
an embedded lake's catalog moved into PostgreSQL (services), and a lake made with DuckLake's data
inlining (every lake before session 23) rebuilt without the inlined rows' tables; the same tables,
rows and column comments, the source left as it was; a lake into itself, or two lakes sharing one
data folder, refused before anything is created."""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path

import duckdb
import pytest

from shopverse_platform.cli.warehouse import add_warehouse_commands
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse import lake
from shopverse_platform.lib.warehouse.integrity import check_lake
from shopverse_platform_tests.automation.test_celery_workers import lake_catalogued_in_postgres  # noqa: F401 (fixture)
from shopverse_platform_tests.warehouse.test_ducklake import snapshot


def _migrate(capsys, *argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_warehouse_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["warehouse", "migrate", *argv])
    code = args.func(args)
    return code, capsys.readouterr().out


def _inlined_tables(setting: str) -> set[str]:
    """The tables with an inlined rows' table of their own in the lake's catalog."""
    warehouse = Warehouse(path=setting)
    meta = f'"__ducklake_metadata_{warehouse.lineage_name()}"'
    with warehouse.connect(read_only=True) as con:
        return {name for (name,) in con.execute(
            f"SELECT DISTINCT t.table_name FROM {meta}.ducklake_inlined_data_tables i "
            f"JOIN {meta}.ducklake_table t USING (table_id) WHERE t.end_snapshot IS NULL").fetchall()}


@pytest.fixture
def old_lake(tmp_path, monkeypatch) -> str:
    """A lake as an older version made it: DuckLake's default data inlining, so its small tables'
    rows sit in tables of their own in the catalog. A table of 1,000 rows with a column comment,
    one of 3 rows (inlined), one never filled with a NOT NULL column, and a day replaced."""
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    catalog = tmp_path / "old" / "shopverse.sqlite"
    catalog.parent.mkdir()
    owner = duckdb.connect()
    lake.load_extensions(owner, "sqlite")
    owner.execute(f"ATTACH 'ducklake:sqlite:{catalog}' AS old (DATA_PATH '{tmp_path / 'old' / 'shopverse.files'}')")
    owner.execute("CREATE TABLE old.orders AS SELECT range AS order_id, DATE '2026-01-01' + (range % 30)::INTEGER AS "
                  "order_date, round(range * 1.25, 2) AS amount FROM range(1000)")
    owner.execute("COMMENT ON COLUMN old.orders.amount IS 'net amount in the reporting currency'")
    owner.execute("CREATE TABLE old.daily_totals AS SELECT DATE '2026-01-01' + range::INTEGER AS day, range AS n FROM range(3)")
    owner.execute("DELETE FROM old.daily_totals WHERE day = DATE '2026-01-03'")
    owner.execute("INSERT INTO old.daily_totals VALUES (DATE '2026-01-03', 30)")
    owner.execute("CREATE TABLE old.raw_orders (invoice VARCHAR NOT NULL, quantity INTEGER)")
    owner.close()
    lake.release_instances()
    yield f"ducklake:sqlite:{catalog}"
    lake.release_instances()


def test_an_old_lake_rebuilt_into_a_new_one_has_the_same_tables_and_no_inlined_rows_tables(old_lake, tmp_path, capsys):
    before = snapshot(old_lake)
    assert _inlined_tables(old_lake) == {"orders", "daily_totals", "raw_orders"}
    new = f"ducklake:sqlite:{tmp_path / 'new' / 'shopverse.sqlite'}"
    code, out = _migrate(capsys, "--from", old_lake, "--to", new)
    assert code == 0, out
    assert f"export SHOPVERSE_WAREHOUSE='{new}'" in out and "one transaction" in out and "was left as it was" in out
    assert "daily_totals" in out and "1,000 rows" in out
    assert snapshot(new) == before  # every table, every row
    assert snapshot(new)["daily_totals"][-1] == (date(2026, 1, 3), 30)
    # only the never-filled table inlines, its statistics' single row (lake.prime_table_statistics)
    assert _inlined_tables(new) == {"raw_orders"}
    with Warehouse(path=new).connect(read_only=True) as con:
        comment = con.execute("SELECT comment FROM duckdb_columns() WHERE database_name = current_database() "
                              "AND table_name = 'orders' AND column_name = 'amount'").fetchall()[0][0]
        assert comment == "net amount in the reporting currency"
        assert lake.inlining_limit(con, "shopverse") == 0
        files = con.execute("SELECT data_file FROM ducklake_list_files('shopverse', 'orders')").fetchall()
    assert files and all(str(tmp_path / "new" / "shopverse.files") in f for (f,) in files), files
    assert snapshot(old_lake) == before  # the source as it was
    assert _inlined_tables(old_lake) == {"orders", "daily_totals", "raw_orders"}


def test_a_lake_into_itself_or_into_its_own_data_folder_is_refused_before_anything_is_made(old_lake, tmp_path, capsys):
    before = snapshot(old_lake)
    code, out = _migrate(capsys, "--from", old_lake)
    assert code == 2 and "--to names the new lake" in out
    code, out = _migrate(capsys, "--from", old_lake, "--to", old_lake)
    assert code == 1 and "refused" in out and "migrate from and to" in out
    sharing = tmp_path / "sharing" / "shopverse.sqlite"
    code, out = _migrate(capsys, "--from", old_lake, "--to", f"ducklake:sqlite:{sharing}",
                         "--data-path", str(tmp_path / "old" / "shopverse.files") + "/")
    assert code == 1 and "refused" in out and "each one's maintenance would delete the other's" in out
    assert not sharing.exists(), "refused before the new lake's catalog was created"
    assert snapshot(old_lake) == before


def test_a_lake_into_a_lake_that_holds_tables_is_refused(old_lake, tmp_path, capsys):
    other = f"ducklake:sqlite:{tmp_path / 'other' / 'shopverse.sqlite'}"
    with Warehouse(path=other).connect() as con:
        con.execute("CREATE TABLE kept AS SELECT 1 AS n")
    code, out = _migrate(capsys, "--from", old_lake, "--to", other)
    assert code == 1 and "already holds 1 table(s)" in out
    assert snapshot(other) == {"kept": [(1,)]}


@pytest.mark.services
def test_an_embedded_lake_moves_its_catalog_into_postgresql(old_lake, lake_catalogued_in_postgres, monkeypatch, capsys):
    # $SHOPVERSE_WAREHOUSE_DATA_PATH is the new lake's: opened with it, the old one refuses (its catalog names its own)
    new_data_path = os.environ.pop("SHOPVERSE_WAREHOUSE_DATA_PATH")
    before = snapshot(old_lake)
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE_DATA_PATH", new_data_path)
    code, out = _migrate(capsys, "--from", old_lake, "--to", lake_catalogued_in_postgres)
    assert code == 0, out
    assert snapshot(lake_catalogued_in_postgres) == before
    assert _inlined_tables(lake_catalogued_in_postgres) == {"raw_orders"}
    assert lake.parse_location(lake_catalogued_in_postgres, None).stored_data_path() == new_data_path + "/"
    assert list(Path(new_data_path).rglob("*.parquet")), "the tables' files under the new lake's own data path"
    integrity = check_lake(lake.parse_location(lake_catalogued_in_postgres, None))
    assert integrity.whole and not integrity.catalog_checked
    assert integrity.files_listed == len(list(Path(new_data_path).rglob("*.parquet"))) == 2  # orders, daily_totals
