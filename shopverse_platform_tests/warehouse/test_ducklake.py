"""The DuckLake layout (issue 16): the same tables as the DuckDB file, a file migrated into a lake
continues incrementally, a reader held open while a run writes, two processes writing one table.

Every build goes through `shopverse backfill` (the daily assets over a range, one run), on one
simulated landing zone, so the two layouts read the same files."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from shopverse_platform.cli.reports import add_report_commands
from shopverse_platform.cli.warehouse import add_warehouse_commands
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.simulator.traffic import simulate
from shopverse_platform.lib.warehouse import lake
from shopverse_platform.lib.warehouse.integrity import check_lake
from shopverse_platform.lib.warehouse.tables import replace_date_range
from shopverse_platform_tests.conftest import warehouse_setting

FIRST = date(2026, 11, 9)
DAYS = 7
LAST = FIRST + timedelta(days=DAYS - 1)

# Columns that say when or by which run a row was written, not what it holds.
VOLATILE = ("_at", "run_id", "mlflow", "model_version")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_report_commands(sub)
    add_warehouse_commands(sub)
    return parser


def _command(monkeypatch, capsys, warehouse: str, *argv: str) -> str:
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", warehouse)
    args = _parser().parse_args(list(argv))
    code = args.func(args)
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def _backfill(monkeypatch, capsys, warehouse: str, first: date, last: date) -> str:
    return _command(monkeypatch, capsys, warehouse, "backfill", "--start", first.isoformat(), "--end", last.isoformat(),
                    "--select", "*", "--reports", "none")


def snapshot(setting: str) -> dict[str, list[tuple]]:
    """Every table's rows (volatile columns left out), sorted: what a comparison of layouts compares."""
    tables: dict[str, list[tuple]] = {}
    with Warehouse(path=setting).connect(read_only=True) as con:
        names = [n for (n,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY 1").fetchall()]
        for name in names:
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND table_name = ? "
                "ORDER BY column_index", [name]).fetchall() if not any(v in c for v in VOLATILE)]
            rows = con.execute(f'SELECT {", ".join(lake.quoted_identifier(c) for c in columns)} FROM "{name}"').fetchall()
            tables[name] = sorted(rows, key=repr)
    return tables


def assert_same_tables(left: dict, right: dict) -> None:
    assert sorted(left) == sorted(right)
    different = [name for name in left if left[name] != right[name]]
    assert not different, {name: (len(left[name]), len(right[name])) for name in different}


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lake_landing")
    simulate(root, users=60, days=DAYS, start=FIRST, seed=5, faults=0.002)
    return root


@pytest.fixture
def shared_landing(landing: Path, monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("SHOPVERSE_LANDING_DIR", str(landing))
    monkeypatch.chdir(tmp_path)
    yield landing
    lake.release_instances()


def test_a_migrated_file_continues_on_the_lake_as_the_file_does_and_a_new_lake_builds_the_same(
        shared_landing, tmp_path, monkeypatch, capsys):
    file = tmp_path / "file" / "shopverse.duckdb"
    # the DuckDB file: six days, then the seventh (incremental builders update their state)
    _backfill(monkeypatch, capsys, str(file), FIRST, LAST - timedelta(days=1))
    six_days = tmp_path / "migrated" / "shopverse.duckdb"
    six_days.parent.mkdir()
    shutil.copy(file, six_days)
    _backfill(monkeypatch, capsys, str(file), LAST, LAST)

    # the six-day file migrated by the command, then the seventh day on the lake
    out = _command(monkeypatch, capsys, str(six_days), "warehouse", "migrate")
    migrated = f"ducklake:sqlite:{six_days.with_suffix('.sqlite')}"
    assert f"export SHOPVERSE_WAREHOUSE='{migrated}'" in out and "one transaction" in out
    assert (six_days.parent / "shopverse.files").is_dir() and six_days.exists()  # the file is left as it was
    assert_same_tables(snapshot(migrated), snapshot(str(six_days)))
    with Warehouse(path=migrated).connect(read_only=True) as con:  # column comments came along
        comment = con.execute("SELECT comment FROM duckdb_columns() WHERE database_name = current_database() "
                              "AND table_name = 'daily_sales' AND column_name = 'sales_date'").fetchall()[0][0]
    assert comment and "UTC day" in comment
    # `shopverse warehouse` on either: the layout, and as many tables
    info_lake = _command(monkeypatch, capsys, migrated, "warehouse")
    info_file = _command(monkeypatch, capsys, str(six_days), "warehouse")
    tables = len(snapshot(str(six_days)))
    assert info_lake.startswith("DuckLake sqlite:") and f"tables        {tables} (" in info_lake
    assert "snapshots" in info_lake and "data files" in info_lake
    assert "write turns   none held" in info_lake and "write turns" not in info_file
    assert info_file.startswith("DuckDB file:") and f"tables        {tables} (" in info_file and "file size" in info_file
    _backfill(monkeypatch, capsys, migrated, LAST, LAST)
    file_tables = snapshot(str(file))
    assert_same_tables(snapshot(migrated), file_tables)

    # a new lake, the seven days in one run: the same tables as the file built in two
    fresh = f"ducklake:sqlite:{tmp_path / 'fresh' / 'shopverse.sqlite'}"
    _backfill(monkeypatch, capsys, fresh, FIRST, LAST)
    fresh_tables = snapshot(fresh)
    assert_same_tables(fresh_tables, file_tables)
    assert len(fresh_tables["daily_sales"]) == DAYS and len(fresh_tables["clean_events"]) > 1000
    parquet = list((tmp_path / "fresh" / "shopverse.files").rglob("*.parquet"))
    assert parquet, "a lake's data are Parquet files under its data path"

    # migrating into a lake that holds tables is refused, and changes nothing
    args = _parser().parse_args(["warehouse", "migrate", "--from", str(six_days), "--to", fresh])
    assert args.func(args) == 1
    assert "refused" in capsys.readouterr().out
    assert_same_tables(snapshot(fresh), fresh_tables)


READER = textwrap.dedent("""
    import json, sys, time
    from shopverse_platform.defs.resources import Warehouse
    setting, expected, stop = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    queries, torn, seen = 0, [], set()
    # one connection held for the whole run, as a notebook's would be
    with Warehouse(path=setting).connect(read_only=True) as con:
        print("open", flush=True)
        import os
        while not os.path.exists(stop) or queries == 0:
            per_day = dict(con.execute("SELECT strftime(event_date, '%Y-%m-%d'), count(*) FROM clean_events "
                                       "GROUP BY ALL").fetchall())
            snapshot = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots(current_database())").fetchall()[0][0]
            seen.add(snapshot)
            queries += 1
            if per_day != expected:
                torn.append(per_day)
            time.sleep(0.02)
    print(json.dumps({"queries": queries, "torn": torn[:3], "torn_count": len(torn), "snapshots": len(seen)}), flush=True)
""")


def test_a_reader_held_open_while_a_run_rewrites_every_day_never_blocks_it_nor_sees_half_a_day(
        shared_landing, tmp_path, monkeypatch, capsys):
    import json

    setting = f"ducklake:sqlite:{tmp_path / 'lake' / 'shopverse.sqlite'}"
    _backfill(monkeypatch, capsys, setting, FIRST, LAST)
    with Warehouse(path=setting).connect(read_only=True) as con:
        expected = dict(con.execute("SELECT strftime(event_date, '%Y-%m-%d'), count(*) FROM clean_events GROUP BY ALL").fetchall())
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, setting, json.dumps(expected), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open", reader.stderr.read()
        # the same seven days rebuilt by a run while the reader holds its connection and keeps asking:
        # every partition is deleted and inserted again (raw_events, clean_events, the metrics...)
        out = _backfill(monkeypatch, capsys, setting, FIRST, LAST)
        assert "daily_job 2026-11-09..2026-11-15: ok" in out
    finally:
        stop.touch()
        stdout, stderr = reader.communicate(timeout=60)
    assert reader.returncode == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["queries"] > 5
    assert result["torn_count"] == 0, result["torn"]  # never a day half deleted or half inserted
    assert result["snapshots"] > 1  # the reader did read while the run committed


def _rewrite_days(setting: str, days: list[int], rewrites: int, rows: int, errors) -> None:
    try:
        warehouse = Warehouse(path=setting)
        for i in range(rewrites):
            day = date(2026, 1, 1) + timedelta(days=days[i % len(days)])
            with warehouse.connect() as con:
                replace_date_range(con, table="parts", date_column="day", start=day, end=day + timedelta(days=1),
                                   select_sql="SELECT CAST(? AS DATE) AS day, range AS id FROM range(?)", params=[day, rows])
    except BaseException as error:  # reported to the test, which fails on it
        errors.put(repr(error))


def test_two_processes_replacing_days_of_one_table_at_once_both_succeed(tmp_path):
    setting = f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}"
    with Warehouse(path=setting).connect() as con:
        con.execute("CREATE TABLE parts (day DATE, id BIGINT)")
    lake.release_instances()
    errors = mp.get_context("spawn").Queue()
    writers = [mp.get_context("spawn").Process(target=_rewrite_days, args=(setting, days, 12, 50_000, errors))
               for days in ([0, 1, 2], [3, 4, 5])]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
    assert [w.exitcode for w in writers] == [0, 0]
    assert errors.empty(), errors.get()
    with Warehouse(path=setting).connect(read_only=True) as con:
        per_day = con.execute("SELECT day, count(*), count(DISTINCT id) FROM parts GROUP BY day ORDER BY day").fetchall()
    assert [(d.day, n, distinct) for d, n, distinct in per_day] == [(day, 50_000, 50_000) for day in range(1, 7)]


def _count_up(setting: str, times: int, errors) -> None:
    from shopverse_platform.lib.warehouse.tables import in_transaction

    try:
        warehouse = Warehouse(path=setting)
        for _ in range(times):
            with warehouse.connect() as con:
                def add_one() -> None:  # a read, then a write from it: a retry must read again
                    (n,) = con.execute("SELECT n FROM counter").fetchone()
                    con.execute("DELETE FROM counter")
                    con.execute("INSERT INTO counter VALUES (?)", [n + 1])

                in_transaction(con, add_one)
    except BaseException as error:  # reported to the test, which fails on it
        errors.put(repr(error))


def test_a_transaction_meeting_another_processes_commit_is_done_again_whole(tmp_path):
    """in_transaction (lib/warehouse/transactions.py), as the dimensions, the visitor observations and the
    customer totals write: two processes each adding 1 to a counter 15 times, reading it in the same
    transaction, on one SQLite-catalogued lake. Each commit that meets the other's is done again from
    its read, so none is lost and neither process fails (without the retry one fails on
    'database is locked' or a DuckLake conflict)."""
    setting = f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}"
    with Warehouse(path=setting).connect() as con:
        con.execute("CREATE TABLE counter AS SELECT 0 AS n")
    lake.release_instances()
    errors = mp.get_context("spawn").Queue()
    writers = [mp.get_context("spawn").Process(target=_count_up, args=(setting, 15, errors)) for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
    assert errors.empty(), errors.get()
    assert [w.exitcode for w in writers] == [0, 0]
    with Warehouse(path=setting).connect(read_only=True) as con:
        assert con.execute("SELECT n FROM counter").fetchall() == [(30,)]


def test_contention_is_retried_and_other_errors_are_not():
    calls: list[int] = []

    def failing(error: Exception, times: int, result: str):
        """Work that raises ``error`` on its first ``times`` calls, then returns ``result``."""
        def work() -> str:
            calls.append(1)
            if len(calls) <= times:
                raise error
            return result
        return work

    flaky = failing(duckdb.TransactionException("Failed to commit DuckLake transaction: database is locked"), 2, "done")
    assert lake.retry_contention(flaky, sleep=lambda s: None) == "done" and len(calls) == 3

    # a commit that loaded the catalog while another process was creating a table (fast suite, session 17)
    calls.clear()
    mid_creation = failing(duckdb.TransactionException(
        'Failed to commit: Failed to commit DuckLake transaction. Failed to load DuckLake - Table entry '
        '"order_export_files" does not have any columns'), 1, "created")
    assert lake.retry_contention(mid_creation, sleep=lambda s: None) == "created" and len(calls) == 2

    def broken() -> None:
        calls.append(1)
        raise duckdb.CatalogException("Table with name nope does not exist!")

    calls.clear()
    with pytest.raises(duckdb.CatalogException):
        lake.retry_contention(broken, sleep=lambda s: None)
    assert len(calls) == 1

    def always_locked() -> None:
        raise duckdb.TransactionException("Transaction conflict: cannot delete from table parts")

    with pytest.raises(duckdb.TransactionException):
        lake.retry_contention(always_locked, attempts=4, sleep=lambda s: None)

    # a new SQLite catalog put in WAL mode by two step processes at once (Python's sqlite3, before
    # the attach): SQLite answers one "database is locked" without waiting (CI, session 15)
    calls.clear()
    new_catalog = failing(sqlite3.OperationalError("database is locked"), 1, "attached")
    assert lake.retry_contention(new_catalog, sleep=lambda s: None) == "attached" and len(calls) == 2
    with pytest.raises(sqlite3.OperationalError):
        lake.retry_contention(lambda: sqlite3.connect(":memory:").execute("SELECT nope FROM nowhere"),
                              sleep=lambda s: None)

    # a new catalog created by two processes at once: the loser's attach is retried, and only an attach's
    race = duckdb.Error('Failed to initialize DuckLake: Failed to execute query "CREATE TABLE "public"."ducklake_metadata"'
                        '(...)": ERROR:  duplicate key value violates unique constraint "pg_type_typname_nsp_index"')
    assert not lake.is_contention(race)
    assert lake.is_contention(race, lake.CONTENTION_MARKERS + lake.CREATION_RACE_MARKERS)
    # ... and the same race when the winner had committed before the loser's CREATE TABLE (CI, stop 23)
    committed = duckdb.Error('Failed to initialize DuckLake: Failed to execute query "CREATE TABLE "public".'
                             '"ducklake_metadata"(...)": ERROR:  relation "ducklake_metadata" already exists')
    assert not lake.is_contention(committed)
    assert lake.is_contention(committed, lake.CONTENTION_MARKERS + lake.CREATION_RACE_MARKERS)


def test_a_step_meeting_another_commit_is_retried_by_dagster(tmp_path):
    """A transaction conflict inside a step (not in a retried replacement) asks Dagster to run the
    step again; any other error fails it as before."""
    attempts: list[int] = []

    @dg.asset
    def conflicted(warehouse: Warehouse) -> None:
        attempts.append(1)
        with warehouse.connect() as con:
            if len(attempts) == 1:
                raise duckdb.TransactionException("Failed to commit: Transaction conflict on table t")
            con.execute("CREATE OR REPLACE TABLE t AS SELECT 1 AS x")

    setting = f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}"
    result = dg.materialize([conflicted], resources={"warehouse": Warehouse(path=setting)})
    assert result.success and len(attempts) == 2
    with Warehouse(path=setting).connect(read_only=True) as con:
        assert con.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_lake_settings_are_parsed_and_explained(tmp_path, monkeypatch):
    catalog = tmp_path / "wh" / "shop.sqlite"
    parsed = lake.parse_location(f"ducklake:sqlite:{catalog}")
    assert parsed.catalog == str(catalog) and parsed.data_path == str(tmp_path / "wh" / "shop.files") + "/"
    assert parsed.stem() == "shop" and not parsed.exists()
    assert lake.parse_location(str(tmp_path / "x.duckdb")) is None
    pg = lake.parse_location("ducklake:postgres:dbname=lakehouse host=db password=secret", "s3://bucket/lake")
    assert pg.data_path == "s3://bucket/lake/" and pg.stem() == "lakehouse" and "secret" not in pg.describe()
    assert lake.parse_location("ducklake:postgres:dbname=lakehouse").data_path is None  # the catalog's own
    with pytest.raises(lake.LakeConfigurationError, match="ducklake:sqlite"):
        lake.parse_location("ducklake:catalog.ducklake")
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", f"ducklake:sqlite:{catalog}")
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE_DATA_PATH", str(tmp_path / "elsewhere"))
    warehouse = Warehouse()
    assert warehouse.lake().data_path == str(tmp_path / "elsewhere") + "/"
    assert warehouse.lineage_name() == "shop" and warehouse.uri == "duckdb://shop"
    assert not warehouse.exists()
    with warehouse.connect() as con:  # more rows than DuckLake inlines into its catalog (10)
        con.execute("CREATE TABLE t AS SELECT range AS x FROM range(100)")
    assert warehouse.exists() and any((tmp_path / "elsewhere").rglob("*.parquet"))
    lake.release_instances()


def test_a_run_with_its_steps_in_two_processes_builds_the_same_tables(shared_landing, tmp_path, monkeypatch, capsys):
    """`shopverse backfill --workers 2` on a lake: Dagster's multiprocess executor, independent steps
    (raw_events beside raw_orders, the metrics beside each other) in processes of their own, each
    writing the lake at once; the tables equal a run of the steps one after another on a file."""
    file = str(tmp_path / "file" / "shopverse.duckdb")
    _backfill(monkeypatch, capsys, file, FIRST, LAST)
    setting = f"ducklake:sqlite:{tmp_path / 'lake' / 'shopverse.sqlite'}"
    out = _command(monkeypatch, capsys, setting, "backfill", "--start", FIRST.isoformat(), "--end", LAST.isoformat(),
                   "--select", "*", "--reports", "none", "--workers", "2")
    assert "daily_job 2026-11-09..2026-11-15: ok" in out
    with dg.DagsterInstance.get() as instance:
        [run] = [r for r in instance.get_runs() if r.job_name == "daily_job" and "multiprocess" in str(r.run_config)]
        starts = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
        pids = {record.event_log_entry.dagster_event.pid for record in starts}
        messages = [entry.user_message for entry in instance.all_logs(run.run_id)]
    assert len(pids) == len(starts) > 10  # a process per step
    # each step's DuckDB shares the machine's cores with the other worker's (the warehouse resource)
    shared = max(1, (os.cpu_count() or 1) // 2)
    told = [m for m in messages if "DuckDB runs" in m]
    assert told and all(f"DuckDB runs {shared} thread(s) in this step's process" in m for m in told), told[:3]
    assert_same_tables(snapshot(setting), snapshot(file))
    # the catalog two processes wrote at once is whole (a lost lock once left one damaged: session 24)
    integrity = check_lake(lake.parse_location(setting))
    assert integrity.whole and integrity.catalog_checked and integrity.files_listed > 20, integrity

    # a DuckDB file admits one writing process: asking for workers on it is refused with the way out
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", file)
    args = _parser().parse_args(["backfill", "--start", FIRST.isoformat(), "--end", LAST.isoformat(), "--workers", "2"])
    with pytest.raises(ValueError, match="shopverse warehouse migrate"):
        args.func(args)


def test_maintenance_expires_old_snapshots_and_deletes_files_no_snapshot_uses(tmp_path, monkeypatch, capsys):
    setting = f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}"
    warehouse = Warehouse(path=setting)
    with warehouse.connect() as con:
        for rewrite in range(6):  # the same day replaced six times, as reruns do: six versions on disk
            replace_date_range(con, table="parts", date_column="day", start=date(2026, 1, 1), end=date(2026, 1, 2),
                               select_sql="SELECT DATE '2026-01-01' AS day, range + ? AS id FROM range(1000)", params=[rewrite])
    on_disk = len(list((tmp_path / "shopverse.files").rglob("*.parquet")))
    assert on_disk >= 6
    time.sleep(1.1)
    out = _command(monkeypatch, capsys, setting, "warehouse", "maintain", "--keep", "1 second")
    import re

    before, after = map(int, re.search(r"^  snapshots\s+([\d,]+) -> ([\d,]+)$", out, re.M).groups())
    assert before >= 7 and after == 1, out
    time.sleep(1.1)  # the files of the snapshots just expired go at the next maintenance (a reader may still read them)
    _command(monkeypatch, capsys, setting, "warehouse", "maintain", "--keep", "1 second")
    assert len(list((tmp_path / "shopverse.files").rglob("*.parquet"))) < on_disk
    with warehouse.connect(read_only=True) as con:  # the current version is whole
        assert con.execute("SELECT count(*), min(id), max(id) FROM parts").fetchall() == [(1000, 5, 1004)]
    file = tmp_path / "file.duckdb"
    assert "nothing to do" in _command(monkeypatch, capsys, str(file), "warehouse", "maintain")


def test_the_weekly_maintenance_job_maintains_a_lake_and_leaves_a_file_alone(tmp_path, monkeypatch):
    """lake_maintenance_job (defs/automation/maintenance.py), scheduled weekly: on a lake it expires
    the old snapshots and keeps the current rows whole, and its schedule runs by default; on a DuckDB
    file it does nothing and its schedule is stopped."""
    from shopverse_platform.definitions import defs

    setting = f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}"
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", setting)
    with Warehouse().connect() as con:
        for rewrite in range(6):  # six daily reruns of one day: six snapshots and six versions
            replace_date_range(con, table="parts", date_column="day", start=date(2026, 1, 1), end=date(2026, 1, 2),
                               select_sql="SELECT DATE '2026-01-01' AS day, range + ? AS id FROM range(1000)", params=[rewrite])
    time.sleep(1.1)
    on_a_lake = defs()
    assert on_a_lake.get_schedule_def("lake_maintenance_schedule").default_status == dg.DefaultScheduleStatus.RUNNING
    result = on_a_lake.get_job_def("lake_maintenance_job").execute_in_process(
        run_config={"ops": {"maintain_warehouse": {"config": {"keep": "1 second"}}}}, instance=dg.DagsterInstance.ephemeral())
    [materialized] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT]
    told = {k: v.value for k, v in materialized.event_specific_data.metadata.items()}
    assert told["maintained"] is True and told["snapshots_before"] >= 7 and told["snapshots_after"] == 1, told
    with Warehouse().connect(read_only=True) as con:
        assert con.execute("SELECT count(*), min(id), max(id) FROM parts").fetchall() == [(1000, 5, 1004)]
    lake.release_instances()

    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", str(tmp_path / "file.duckdb"))
    on_a_file = defs()
    assert on_a_file.get_schedule_def("lake_maintenance_schedule").default_status == dg.DefaultScheduleStatus.STOPPED
    result = on_a_file.get_job_def("lake_maintenance_job").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    [materialized] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT]
    assert materialized.event_specific_data.metadata["maintained"].value is False


@pytest.mark.parametrize("layout", ["file", "lake"])
def test_a_whole_table_is_replaced_with_its_column_comments_in_one_commit(tmp_path, layout):
    """replace_table writes the documented columns' comments in the transaction that replaces the
    table (a CREATE OR REPLACE drops them): a reader never sees the table without them, and on a
    DuckLake the replacement is one snapshot, not two (each a catalog commit, ~70 ms)."""
    from shopverse_platform.defs.lineage.sql_lineage import StatementLog
    from shopverse_platform.lib.warehouse.column_docs import column_descriptions, comment_columns
    from shopverse_platform.lib.warehouse.tables import replace_table

    setting = warehouse_setting(tmp_path, layout)
    described = column_descriptions("seasonality")
    select = "SELECT 'weekday' AS grain, 'Mon' AS slot, 1.5 AS net_revenue"
    try:
        with Warehouse(path=setting).connect() as con:
            for _ in range(2):
                snapshots = (con.execute("SELECT count(*) FROM ducklake_snapshots(current_database())").fetchall()[0][0]
                             if layout == "lake" else None)
                log = StatementLog(con)
                assert replace_table(log, table="seasonality", select_sql=select) == 1
                assert all("COMMENT" not in sql for sql in log.take()), "the comments are not the table's SQL"
                comments = dict(con.execute(
                    "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = current_database() "
                    "AND table_name = 'seasonality'").fetchall())
                assert comments == {c: described[c] for c in ("grain", "slot", "net_revenue")}
                assert comment_columns(con, "seasonality") == 0, "nothing left to write after the replacement"
                if layout == "lake":
                    after = con.execute("SELECT count(*) FROM ducklake_snapshots(current_database())").fetchall()[0][0]
                    assert after == snapshots + 1
    finally:
        lake.release_instances()
