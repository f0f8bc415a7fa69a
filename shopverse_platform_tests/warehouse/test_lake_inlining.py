"""DuckLake's data inlining, off in the lakes the platform creates (lib/warehouse/lake.py,
``keep_rows_out_of_catalog``). With it on (DuckLake 1.5.5's default), every table gets a table of
its own in the catalog for its small writes, and every read of the table asks the catalog for those
rows too: on a SQLite catalog each such question opens the catalog file anew and parses its schema,
which those tables make longer. On the embedded SQLite catalog and on PostgreSQL (services)."""

from __future__ import annotations

import duckdb
import pytest

from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse import lake
from shopverse_platform_tests.automation.test_celery_workers import lake_catalogued_in_postgres  # noqa: F401 (fixture)
from shopverse_platform_tests.warehouse.test_lake_statistics import _catalog_queries


def _inlining(con: duckdb.DuckDBPyConnection, alias: str) -> tuple[str | None, int]:
    """The lake's inlining limit as its catalog records it, and how many tables hold inlined rows."""
    limit = con.execute("SELECT value FROM ducklake_options(?) WHERE option_name = 'data_inlining_row_limit'",
                        [alias]).fetchall()
    inlined = con.execute(f'SELECT count(*) FROM "__ducklake_metadata_{alias}".ducklake_inlined_data_tables').fetchall()
    return (limit[0][0] if limit else None), inlined[0][0]


def _writes(con: duckdb.DuckDBPyConnection) -> None:
    """What a daily run writes many times: a table of a few rows, then a day replaced in it; and a
    table of 1,000 rows, Parquet whatever the limit."""
    con.execute("CREATE TABLE day_events AS SELECT range AS event_id, range % 7 AS kind FROM range(1000)")
    con.execute("CREATE TABLE daily_totals AS SELECT DATE '2026-01-01' + range::INTEGER AS day, range AS n FROM range(3)")
    con.execute("DELETE FROM daily_totals WHERE day = DATE '2026-01-03'")
    con.execute("INSERT INTO daily_totals VALUES (DATE '2026-01-03', 30)")


READ = "SELECT kind, count(*) FROM day_events GROUP BY kind"


def _new_lake_keeps_rows_out_of_its_catalog(setting: str) -> None:
    warehouse = Warehouse(path=setting)
    alias = warehouse.lineage_name()
    with warehouse.connect() as con:
        _writes(con)
        assert _inlining(con, alias) == ("0", 0)
        assert con.execute("SELECT sum(n) FROM daily_totals").fetchall() == [(31,)]
        files = con.execute("SELECT count(*) FROM ducklake_list_files(current_database(), 'daily_totals')").fetchall()
        assert files[0][0] == 2, "the small writes are Parquet files, not catalog rows"
    lake.release_instances()
    with warehouse.connect() as con:  # another process's view: the choice is the catalog's
        assert _inlining(con, alias) == ("0", 0)


def test_a_new_lake_writes_small_tables_as_files_and_reads_them_with_fewer_catalog_queries(tmp_path):
    """The lake the platform creates records inlining off; a lake its owner created with inlining
    on keeps that choice, and reading the same 1,000-row table there asks the catalog more (for the
    table's inlined rows, which it has none of)."""
    _new_lake_keeps_rows_out_of_its_catalog(f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}")
    with Warehouse(path=f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}").connect() as con:
        off = _catalog_queries(con, READ)

    chosen = tmp_path / "chosen.sqlite"
    owner = duckdb.connect()
    lake.load_extensions(owner, "sqlite")
    owner.execute(f"ATTACH 'ducklake:sqlite:{chosen}' AS chosen (DATA_PATH '{tmp_path / 'chosen_files'}')")
    owner.execute("CALL ducklake_set_option('chosen', 'data_inlining_row_limit', 10)")
    owner.close()
    warehouse = Warehouse(path=f"ducklake:sqlite:{chosen}")
    with warehouse.connect() as con:
        _writes(con)
        limit, inlined = _inlining(con, warehouse.lineage_name())
        assert (limit, inlined > 0) == ("10", True), "an owner's choice is kept"
        assert con.execute("SELECT sum(n) FROM daily_totals").fetchall() == [(31,)]
        on = _catalog_queries(con, READ)
    assert off < on, (off, on)


class _CommitMeetsAnother:
    """A connection whose setting of an option meets another process's commit."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def execute(self, sql: str, params=None):
        if sql.startswith("CALL ducklake_set_option"):
            raise duckdb.TransactionException("Transaction conflict: the lake's options were changed by another process")
        return self._con.execute(sql, params)


def test_a_lake_opened_by_two_processes_at_once_leaves_the_setting_to_the_other(tmp_path):
    """Attaching is retried whole on contention; the setting meeting another process's commit
    must not fail the attach (attaching again would meet the lake attached already)."""
    owner = duckdb.connect()
    lake.load_extensions(owner, "sqlite")
    owner.execute(f"ATTACH 'ducklake:sqlite:{tmp_path / 'new.sqlite'}' AS new (DATA_PATH '{tmp_path / 'new_files'}')")
    assert lake.keep_rows_out_of_catalog(_CommitMeetsAnother(owner), "new") is False
    assert lake.inlining_limit(owner, "new") is None
    assert lake.keep_rows_out_of_catalog(owner, "new") is True  # the next process sets it
    assert lake.inlining_limit(owner, "new") == 0


@pytest.mark.services
def test_a_new_lake_on_a_postgresql_catalog_writes_small_tables_as_files(lake_catalogued_in_postgres):
    _new_lake_keeps_rows_out_of_its_catalog(lake_catalogued_in_postgres)
