"""A lake's tables that never held a row (an events-only shop's order tables, a shop whose data
never needed a quarantine row): DuckLake 1.5.5 keeps no statistics for them and asks its catalog
for them per column on every read; the first writing connection of a process gives them their
statistics (lib/warehouse/lake.py, ``prime_table_statistics``). On the embedded SQLite catalog and on
PostgreSQL (services)."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse import lake
from shopverse_platform_tests.automation.test_celery_workers import lake_catalogued_in_postgres  # noqa: F401 (fixture)


def _catalog_queries(con, sql: str) -> int:
    """How many queries DuckLake sent its catalog to run ``sql`` (its DuckLakeMetadata log)."""
    con.execute("CALL truncate_duckdb_logs()")
    con.execute("CALL enable_logging('DuckLakeMetadata')")
    try:
        con.execute(sql).fetchall()
    finally:
        con.execute("CALL disable_logging()")
    return con.execute("SELECT count(*) FROM duckdb_logs_parsed('DuckLakeMetadata')").fetchall()[0][0]


def _never_filled_tables_are_primed(setting: str, monkeypatch) -> None:
    warehouse = Warehouse(path=setting)
    alias = warehouse.lineage_name()
    wide = ", ".join(f"c{i} VARCHAR" for i in range(12))
    read_empty = "SELECT * FROM never_filled WHERE day >= DATE '2026-01-01'"
    try:
        with warehouse.connect() as con:
            con.execute(f"CREATE TABLE never_filled (day DATE, {wide})")
            con.execute("CREATE TABLE never_filled_required (day DATE NOT NULL, source VARCHAR NOT NULL, "
                        "n BIGINT NOT NULL, fingerprint UBIGINT NOT NULL, seen_at TIMESTAMP NOT NULL, "
                        "flag BOOLEAN NOT NULL, ids INTEGER[] NOT NULL, note VARCHAR)")
            con.execute("CREATE TABLE filled (day DATE, n INTEGER)")
            con.execute("INSERT INTO filled VALUES (DATE '2026-01-01', 1), (DATE '2026-01-02', 2), (DATE '2026-01-03', 3)")
            assert lake.never_filled_tables(con, alias) == ["never_filled", "never_filled_required"]
            unprimed = _catalog_queries(con, read_empty)
            assert unprimed >= 12, "a read of the never-filled table asks for its statistics per column"

            # the listing went stale: another process filled the table since; its rows stay
            with monkeypatch.context() as stale:
                stale.setattr(lake, "never_filled_tables", lambda con, alias: ["filled"])
                assert lake.prime_table_statistics(con, alias) == []
            assert con.execute("SELECT sum(n) FROM filled").fetchall() == [(6,)]
        lake.release_instances()

        with warehouse.connect() as con:  # the first write connection of a process primes
            assert lake.never_filled_tables(con, alias) == []
            counts = [con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
                      for name in ("never_filled", "never_filled_required", "filled")]
            assert counts == [0, 0, 3]
            primed = _catalog_queries(con, read_empty)
            assert primed < unprimed, (primed, unprimed)
            assert con.execute("SELECT count(*) FROM ducklake_list_files(current_database(), 'never_filled')"
                               ).fetchall() == [(0,)], "no file written for the row inserted and deleted"
    finally:
        lake.release_instances()


def test_a_table_that_never_held_a_row_gets_its_statistics_from_the_next_writer_and_stays_empty(tmp_path, monkeypatch):
    """DuckLake 1.5.5 keeps no statistics for a table that never held a row and asks its catalog for
    them once per column on every read (lake.prime_table_statistics). The next process that opens
    the lake to write gives such tables their statistics (a row inserted and deleted in one
    transaction, NOT NULL columns filled), and reading them then asks the catalog less. A table with
    rows is never touched, even one the catalog listed as never filled a moment before (another
    process's first rows). Should a DuckLake release cache the missing statistics itself, the first
    assertion on the catalog queries fails: the priming can then go."""
    _never_filled_tables_are_primed(f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}", monkeypatch)


@pytest.mark.services
def test_never_filled_tables_get_their_statistics_on_a_postgresql_catalog(lake_catalogued_in_postgres, monkeypatch):
    """The same on the production catalog: its tables are read in PostgreSQL's default schema."""
    _never_filled_tables_are_primed(lake_catalogued_in_postgres, monkeypatch)


def test_a_migrated_lake_gives_the_tables_it_copied_empty_their_statistics(tmp_path):
    """`shopverse warehouse migrate`: a table of the DuckDB file that is empty (an events-only
    shop's order tables) arrives in the lake with its statistics, its rows (none) and the other
    tables' rows as they were."""
    from shopverse_platform.lib.warehouse.migrate import migrate_file_to_lake

    file = tmp_path / "shopverse.duckdb"
    with duckdb.connect(str(file)) as source:
        source.execute("CREATE TABLE raw_orders (partition_date DATE, invoice_no VARCHAR NOT NULL)")
        source.execute("CREATE TABLE daily_sales AS SELECT DATE '2026-01-01' + range::INT AS sales_date FROM range(5)")
    warehouse = Warehouse(path=f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}")
    try:
        with warehouse.connect() as con:
            migrated = {table.name: table.rows for table in migrate_file_to_lake(file, con, echo=lambda _: None)}
            assert migrated == {"raw_orders": 0, "daily_sales": 5}
            assert lake.never_filled_tables(con, warehouse.lineage_name()) == []
            assert [con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
                    for name in ("raw_orders", "daily_sales")] == [0, 5]
    finally:
        lake.release_instances()


def test_backfill_gives_the_tables_a_run_created_empty_their_statistics_before_its_next_run(tmp_path, monkeypatch):
    """Found backfilling a UCI-shaped (orders-only) year on a lake: `shopverse backfill` runs its daily
    and weekly jobs in its own process, whose lake instance primed the never-filled tables when it
    was made, before the daily job created its empty event tables; the weekly job read them
    unprimed (a week's segment snapshot: 149 catalog queries instead of 29, its step 23.6 s instead
    of 10.4 s). Between its runs the command now primes them through the same instance (on a SQLite
    catalog a writing connection's close already does, below; on PostgreSQL this is what does)."""
    from datetime import date

    from shopverse_platform.cli import backfill as cli_backfill
    from shopverse_platform.definitions import defs

    setting = f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}"
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", setting)
    # as when the catalog's schema version cannot be read: no priming when a connection closes
    monkeypatch.setattr(lake, "_schema_version", lambda instance, alias: None)
    warehouse = Warehouse(path=setting)
    seen_by_run: dict[str, list[str]] = {}

    def run(defs, instance, job_name, first, last, *args, **kwargs):
        with warehouse.connect() as con:  # the process's instance, made by the first run
            seen_by_run[job_name] = lake.never_filled_tables(con, warehouse.lineage_name())
            if job_name == "daily_job":
                con.execute("CREATE TABLE filled (day DATE, n INTEGER)")
                con.execute("INSERT INTO filled VALUES (DATE '2026-01-01', 1)")
                con.execute("CREATE TABLE left_empty (day DATE, n INTEGER NOT NULL)")
        stage = cli_backfill.BackfillStage(job_name, first.isoformat(), last.isoformat(), f"run-{job_name}", True, 0.1)
        return stage, None

    monkeypatch.setattr(cli_backfill, "run_range", run)
    try:
        with dg.instance_for_test() as instance:
            stages = cli_backfill.backfill(defs(), instance, date(2026, 11, 2), date(2026, 11, 8), reports="none",
                                           echo=lambda _: None)
        assert [s.job_name for s in stages] == ["daily_job", "weekly_job"]
        assert seen_by_run == {"daily_job": [], "weekly_job": []}
        with warehouse.connect() as con:
            assert [con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
                    for name in ("filled", "left_empty")] == [1, 0]
    finally:
        lake.release_instances()


def test_a_step_that_created_tables_and_left_them_empty_primes_them_when_its_connection_closes(tmp_path):
    """A new lake's first run creates its tables as it goes, after its process's instance primed
    (an orders-only shop's 14 event tables): the later steps of that run read them unprimed (the
    UCI year's first daily job: 993 catalog queries for statistics, 447 with this). When a writing connection closes
    and the lake's schema version moved (read from the SQLite catalog file: no DuckLake
    transaction), the tables it left empty get their statistics; a connection that created nothing
    leaves the catalog alone."""
    warehouse = Warehouse(path=f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}")
    alias = warehouse.lineage_name()
    try:
        with warehouse.connect() as con:  # the instance is made here, on a lake without tables
            con.execute("CREATE TABLE filled (day DATE, n INTEGER)")
            con.execute("INSERT INTO filled VALUES (DATE '2026-01-01', 1)")
            con.execute("CREATE TABLE left_empty (day DATE, n INTEGER NOT NULL)")
            assert lake.never_filled_tables(con, alias) == ["left_empty"]
        with warehouse.connect() as con:  # the next step, on the same instance
            assert lake.never_filled_tables(con, alias) == []
            assert [con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
                    for name in ("filled", "left_empty")] == [1, 0]
            snapshots = con.execute("SELECT count(*) FROM ducklake_snapshots(current_database())").fetchall()[0][0]
        with warehouse.connect() as con:
            con.execute("SELECT count(*) FROM filled").fetchall()
        with warehouse.connect() as con:  # nothing created: no catalog work, no snapshot
            assert con.execute("SELECT count(*) FROM ducklake_snapshots(current_database())").fetchall()[0][0] == snapshots
    finally:
        lake.release_instances()
