"""Writers of a lake with a PostgreSQL catalog take turns per table (lib/warehouse/write_turns.py):
a transaction naming the tables it writes holds an advisory lock per table, so two writers of one
table queue instead of the later commit failing, and writers of other tables go on beside it. On a
real PostgreSQL cluster (services), but for what needs none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopverse_platform.cli.warehouse import describe_turns
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse import lake, read_groups, write_turns
from shopverse_platform.lib.warehouse.transactions import transaction
from shopverse_platform_tests.automation.test_celery_workers import lake_catalogued_in_postgres  # noqa: F401 (fixture)

# A writer process (turn_writer.py): <lake setting> <table> <commits> <start file> <name>.
WRITER = [sys.executable, "-m", "shopverse_platform_tests.warehouse.turn_writer"]


def _new_tables() -> None:
    with Warehouse(path=os.environ["SHOPVERSE_WAREHOUSE"]).connect() as con:
        for table in ("a", "b"):
            con.execute(f"CREATE TABLE {table} (day INTEGER, v BIGINT, s VARCHAR)")
            con.execute(f"INSERT INTO {table} SELECT i % 5, i, md5(i::VARCHAR) FROM range(100000) r(i)")


def _writers(tmp_path: Path, tables: list[str], commits: int, turns: str = "1") -> list[subprocess.Popen]:
    """Writer processes, one per entry of ``tables`` (its table), started together once all are ready."""
    start = tmp_path / f"start-{turns}-{'-'.join(tables)}"
    env = {**os.environ, write_turns.WRITE_TURNS_VARIABLE: turns}
    names = [f"w{i}" for i in range(len(tables))]
    writers = [subprocess.Popen([*WRITER, os.environ["SHOPVERSE_WAREHOUSE"], table, str(commits), str(start), name],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
               for table, name in zip(tables, names)]
    deadline = time.monotonic() + 120
    while not all(start.with_name(f"{start.name}.{name}").exists() for name in names):
        assert time.monotonic() < deadline and all(w.poll() is None for w in writers), "a writer did not get ready"
        time.sleep(0.05)
    start.touch()
    return writers


def _outcome(writer: subprocess.Popen, timeout: float = 600) -> dict:
    out, err = writer.communicate(timeout=timeout)
    assert writer.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def _lock_backends(conninfo: str) -> list[tuple[int, str, str]]:
    """(backend pid, lock mode, application name) of the advisory locks granted now, read from
    pg_locks independently of turn_holders, as an operator would list them."""
    import psycopg2

    probe = psycopg2.connect(conninfo)
    try:
        with probe.cursor() as cursor:
            cursor.execute("SELECT l.pid, l.mode, a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                           "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE %s ORDER BY 1",
                           (write_turns.LOCK_APPLICATION_NAME + " %",))
            return cursor.fetchall()
    finally:
        probe.close()


@pytest.mark.services
def test_a_writer_of_a_table_waits_for_its_turn_and_a_writer_of_another_table_does_not(lake_catalogued_in_postgres, tmp_path):
    _new_tables()
    conninfo = lake_catalogued_in_postgres.split("ducklake:postgres:", 1)[1]
    with Warehouse(path=lake_catalogued_in_postgres).connect() as con:
        assert write_turns.catalog_of(con) == write_turns.PostgresCatalog(conninfo)
        with write_turns.write_turn(con, writes=("a",)) as held:
            assert held
            # the server ends a vanished machine's session (and its turns) in about a minute
            with write_turns._lock_connections[(os.getpid(), write_turns.catalog_of(con))].cursor() as cursor:
                cursor.execute("SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'), "
                               "current_setting('tcp_keepalives_count')")
                assert cursor.fetchone() == ("30", "10", "3")
            [(_, mode, application)] = _lock_backends(conninfo)
            assert mode == "ExclusiveLock" and application == f"{write_turns.LOCK_APPLICATION_NAME} {os.getpid()}"
            same_table, other_table = _writers(tmp_path, ["a", "b"], 1)
            assert _outcome(other_table, timeout=120) == {"commits": 1, "attempts": 1, "failed": None}
            time.sleep(2.0)  # ample for the other writer to reach its transaction
            assert same_table.poll() is None, "it committed to table a while this process held a's turn"
            # who holds and who waits, and the line `shopverse warehouse` prints of it
            assert write_turns.turn_holders(write_turns.catalog_of(con), ["a", "b"]) == [
                write_turns.TurnHolder(os.getpid(), False, "a"), write_turns.TurnHolder(same_table.pid, True, "a")]
            line = describe_turns(lake.parse_location(lake_catalogued_in_postgres), ["a", "b"])
            assert line.startswith(f"held by PID {os.getpid()} (a); waiting: PID {same_table.pid} (a)"), line
        assert _outcome(same_table, timeout=120) == {"commits": 1, "attempts": 1, "failed": None}
        assert _lock_backends(conninfo) == []  # given back
        assert write_turns.turn_holders(write_turns.catalog_of(con), ["a", "b"]) == []


@pytest.mark.services
def test_two_writers_of_one_table_redo_no_transaction(lake_catalogued_in_postgres, tmp_path):
    """Two processes replace days of the same table 15 times each: taking the table's turns, every
    transaction commits at its first attempt. The control, without turns (the variable at 0, as
    before), shows the writers overlap: DuckLake refuses the later of two commits deleting from one
    table, and the transaction is done again."""
    _new_tables()
    taking_turns = [_outcome(writer) for writer in _writers(tmp_path, ["a", "a"], 15)]
    assert taking_turns == [{"commits": 15, "attempts": 15, "failed": None}] * 2
    optimistic = [_outcome(writer) for writer in _writers(tmp_path, ["a", "a"], 15, turns="0")]
    assert any(o["attempts"] > o["commits"] or o["failed"] for o in optimistic), optimistic


@pytest.mark.services
def test_a_lost_lock_connection_is_opened_again(lake_catalogued_in_postgres):
    """An operator ending the turns' session (or the server restarting) takes its locks with it:
    giving the turn back does not fail, and the next turn opens a new connection."""
    import psycopg2

    _new_tables()
    conninfo = lake_catalogued_in_postgres.split("ducklake:postgres:", 1)[1]
    with Warehouse(path=lake_catalogued_in_postgres).connect() as con:
        with transaction(con, writes=("a",)):
            con.execute("DELETE FROM a WHERE day = 0")
            [(first_backend, _, _)] = _lock_backends(conninfo)
            with psycopg2.connect(conninfo) as admin, admin.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", (first_backend,))
        with transaction(con, writes=("a", "b")):
            backends = _lock_backends(conninfo)
            assert len(backends) == 2 and first_backend not in {backend for backend, _, _ in backends}
            con.execute("DELETE FROM b WHERE day = 0")
        assert _lock_backends(conninfo) == []
        assert con.execute("SELECT (SELECT count(*) FROM a WHERE day = 0), (SELECT count(*) FROM b WHERE day = 0)").fetchone() == (0, 0)


def test_a_postgresql_lake_takes_no_turn_for_no_table_or_with_turns_off(monkeypatch):
    """Naming no table, a PostgreSQL lake's transaction stays optimistic, as with turns switched
    off: no connection is even made for locks (this catalog's server does not exist, and naming a
    table with turns on fails trying to reach it)."""
    import psycopg2

    catalog = write_turns.PostgresCatalog("dbname=none host=/nonexistent/socket/dir connect_timeout=2")
    with write_turns.table_turns(catalog, ()) as held:
        assert held is False
    monkeypatch.setenv(write_turns.WRITE_TURNS_VARIABLE, "0")
    with write_turns.table_turns(catalog, ["a"]) as held:
        assert held is False
    monkeypatch.delenv(write_turns.WRITE_TURNS_VARIABLE)
    with pytest.raises(psycopg2.OperationalError):
        with write_turns.table_turns(catalog, ["a"]):
            pass


def test_a_turn_is_taken_after_the_read_group_ends(tmp_path, monkeypatch):
    """A read group left open while waiting for a turn would hold a catalog snapshot another
    writer may wait on: write_turn ends it first (here on a SQLite lake, where groups exist too)."""
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    with Warehouse(path=f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}").connect() as con:
        assert isinstance(con, read_groups.ReadGroups)
        con.execute("CREATE TABLE a (day INTEGER)")
        con.execute("SELECT count(*) FROM a").fetchall()
        assert con._opened is not None  # a group is open
        with write_turns.write_turn(con) as held:
            assert held and con._opened is None
    lake.release_instances()
