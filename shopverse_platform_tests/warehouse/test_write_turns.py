"""Writers of a lake with a SQLite catalog take turns (lib/warehouse/write_turns.py): one writing
transaction at a time, queued, where before each ran optimistically and SQLite refused the later
commit of any two that overlapped, which let a writer committing back to back starve another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from shopverse_platform.defs.lineage.sql_lineage import StatementLog
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.cleaning import events as event_cleaning
from shopverse_platform.lib.ingestion import landing
from shopverse_platform.lib.warehouse import lake, write_turns
from shopverse_platform.lib.warehouse.tables import create_table_if_missing, table_exists
from shopverse_platform.lib.warehouse.transactions import in_transaction, transaction

# A writer process (turn_writer.py): <lake setting> <table> <commits> <start file> <name>.
WRITER = [sys.executable, "-m", "shopverse_platform_tests.warehouse.turn_writer"]


def _new_lake(catalog: Path) -> None:
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        for table in ("a", "b"):
            con.execute(f"CREATE TABLE {table} (day INTEGER, v BIGINT, s VARCHAR)")
            con.execute(f"INSERT INTO {table} SELECT i % 5, i, md5(i::VARCHAR) FROM range(100000) r(i)")
    lake.release_instances()


def _two_writers(catalog: Path, tmp_path: Path, turns: str, commits: int) -> list[dict]:
    start = tmp_path / f"start-{turns}"
    env = {**os.environ, write_turns.WRITE_TURNS_VARIABLE: turns}
    writers = [subprocess.Popen([*WRITER, f"ducklake:sqlite:{catalog}", table, str(commits), str(start), table],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
               for table in ("a", "b")]
    deadline = time.monotonic() + 120
    while not all(start.with_name(f"{start.name}.{table}").exists() for table in ("a", "b")):
        assert time.monotonic() < deadline and all(w.poll() is None for w in writers), "a writer did not get ready"
        time.sleep(0.05)
    start.touch()
    outcomes = []
    for writer in writers:
        out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err[-2000:]
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    return outcomes


def test_two_writers_on_their_own_tables_take_turns_and_redo_nothing(tmp_path, monkeypatch):
    """Each of two processes replaces a day of its own table 20 times. Taking turns, no transaction
    is done again; without turns (the variable at 0, as before) overlapping transactions are refused
    and done again, the control that shows the writers did overlap."""
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    catalog = tmp_path / "with_turns" / "shopverse.sqlite"
    _new_lake(catalog)
    taking_turns = _two_writers(catalog, tmp_path, "1", 20)
    assert [o["commits"] for o in taking_turns] == [20, 20]
    assert [o["attempts"] for o in taking_turns] == [20, 20], taking_turns
    assert write_turns.turn_file(catalog).exists()

    control = tmp_path / "without_turns" / "shopverse.sqlite"
    _new_lake(control)
    optimistic = _two_writers(control, tmp_path, "0", 20)
    redone = sum(o["attempts"] - o["commits"] for o in optimistic)
    assert redone > 0 or any(o["failed"] for o in optimistic), optimistic


def test_only_writing_connections_to_a_sqlite_lake_take_turns(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    catalog = tmp_path / "shopverse.sqlite"
    _new_lake(catalog)
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        assert write_turns.catalog_of(con) == catalog
        with write_turns.write_turn(con) as held:
            assert held
        monkeypatch.setenv(write_turns.WRITE_TURNS_VARIABLE, "0")
        with write_turns.write_turn(con) as held:
            assert not held
        monkeypatch.delenv(write_turns.WRITE_TURNS_VARIABLE)
        # a step's statement log wraps the connection: its transactions take the same turns
        assert write_turns.catalog_of(StatementLog(con)) == catalog
        with transaction(StatementLog(con)):
            assert write_turns._held.get((os.getpid(), catalog)) is not None
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect(read_only=True) as con:
        assert write_turns.catalog_of(con) is None
        assert write_turns.catalog_of(StatementLog(con)) is None
    with Warehouse(path=str(tmp_path / "file.duckdb")).connect() as con:
        assert write_turns.catalog_of(con) is None
        with write_turns.write_turn(con) as held:
            assert not held
    assert write_turns.catalog_of(duckdb.connect()) is None
    assert write_turns.catalog_of(42) is None  # not weakly referenceable: never recorded


def test_a_transaction_inside_another_on_the_same_lake_does_not_wait_for_itself(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    catalog = tmp_path / "shopverse.sqlite"
    _new_lake(catalog)
    finished = threading.Event()

    def nested() -> None:
        warehouse = Warehouse(path=f"ducklake:sqlite:{catalog}")
        with warehouse.connect() as outer, warehouse.connect() as inner:
            with transaction(outer):
                # the inner commits before the outer first reads the lake: a DuckLake transaction
                # opens its snapshot of the catalog then, so the outer's commit is not refused
                in_transaction(inner, lambda: inner.execute("DELETE FROM b WHERE day = 0"))
                outer.execute("DELETE FROM a WHERE day = 0")
        finished.set()

    worker = threading.Thread(target=nested, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert finished.is_set(), "the inner transaction waited for the outer one's turn"
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect(read_only=True) as con:
        assert con.execute("SELECT (SELECT count(*) FROM a WHERE day = 0), (SELECT count(*) FROM b WHERE day = 0)").fetchone() == (0, 0)


def test_another_process_waits_for_the_turn_and_commits_after_it_is_given_back(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    catalog = tmp_path / "shopverse.sqlite"
    _new_lake(catalog)
    start = tmp_path / "start"
    start.touch()
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        with write_turns.write_turn(con):
            other = subprocess.Popen([*WRITER, f"ducklake:sqlite:{catalog}", "b", "1", str(start), "b"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(3.0)  # ample for it to connect and reach its transaction
            assert other.poll() is None, "it committed while another process held the turn"
            # the turn is still ours: a transaction of this process enters at once (re-entrant)
            in_transaction(con, lambda: con.execute("DELETE FROM a WHERE day = 1"))
        out, err = other.communicate(timeout=120)
    assert other.returncode == 0, err[-2000:]
    assert json.loads(out.strip().splitlines()[-1]) == {"commits": 1, "attempts": 1, "failed": None}


@pytest.mark.parametrize("variable, expected", [(None, True), ("1", True), ("0", False), ("false", False), ("no", False)])
def test_turns_are_on_unless_switched_off(variable, expected):
    assert write_turns.turns_enabled({} if variable is None else {write_turns.WRITE_TURNS_VARIABLE: variable}) is expected


# Holds a lake's write turn from another process until the stop file appears.
HOLDER = """
import sys, time
from pathlib import Path
from shopverse_platform.lib.warehouse import lake, write_turns
catalog, ready, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
con = lake.connect(lake.parse_location("ducklake:sqlite:" + catalog), "shopverse", read_only=False, config={})
with write_turns.write_turn(con):
    ready.touch()
    while not stop.exists():
        time.sleep(0.02)
"""


def _while_another_process_holds_the_turn(catalog: Path, tmp_path: Path, write, while_held=None) -> None:
    """Start ``write`` (no arguments) in a thread while another process holds the lake's turn:
    it must not finish until the turn is given back, and must finish then. ``while_held`` (no
    arguments) runs once the thread has started, the turn still held."""
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(catalog), str(ready), str(stop)])
    done = threading.Event()
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert time.monotonic() < deadline and holder.poll() is None, "the holder did not take the turn"
            time.sleep(0.05)
        writer = threading.Thread(target=lambda: (write(), done.set()), daemon=True)
        writer.start()
        if while_held:
            while_held()
        assert not done.wait(2.0), "committed while another process held the turn"
        stop.touch()
        writer.join(timeout=60)
        assert done.is_set()
    finally:
        stop.touch()
        holder.wait(timeout=60)


def test_a_table_created_outside_a_transaction_waits_for_the_turn(tmp_path, monkeypatch):
    """A table created on its own, before the transaction that fills it, commits by itself: on a
    SQLite lake it waits for the turn, as committing beside another process's transaction would
    make that one's commit fail. A table that exists is not created again and waits for nothing."""
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    catalog = tmp_path / "shopverse.sqlite"
    _new_lake(catalog)
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        assert not create_table_if_missing(con, "a", "CREATE TABLE IF NOT EXISTS a (day INTEGER)")  # exists
        _while_another_process_holds_the_turn(
            catalog, tmp_path, lambda: create_table_if_missing(con, "c", "CREATE TABLE IF NOT EXISTS c (day INTEGER)"))
        assert table_exists(con, "c")


def _event_day(landing_dir: Path, day: date, count: int) -> list:
    """A landing file of ``count`` clean page views on ``day``; its ``landing.LandingFile`` list."""
    folder = landing_dir / "events" / day.isoformat()
    folder.mkdir(parents=True)
    (folder / "views.ndjson").write_text("".join(
        json.dumps({"event_id": f"{day}-{n}", "event_name": "page_view", "anonymous_id": f"v{n % 7}",
                    "event_time": f"{day}T10:{n % 60:02d}:00Z"}) + "\n" for n in range(count)))
    return landing.event_files(landing_dir / "events", landing_dir / "logs", day, day + timedelta(days=1))


def test_the_cleaning_of_events_parses_its_lines_before_it_waits_for_the_turn(tmp_path, monkeypatch):
    """A group's parse, most of the cleaning's work, reads only the landed lines: it runs while another
    process holds the lake's turn, and only the deduplication against the stored events and the
    writes wait for it. Before, the parse was inside the transaction, and every other writer of the
    lake (on PostgreSQL: of the quarantine, the order lines' cleaning) waited for it too."""
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    catalog = tmp_path / "shopverse.sqlite"
    _new_lake(catalog)
    # yesterday and the day before: no event is from the future whenever the test runs
    day = datetime.now(timezone.utc).date() - timedelta(days=1)
    day_before = day - timedelta(days=1)
    first, second = _event_day(tmp_path / "landing", day_before, 30), _event_day(tmp_path / "landing", day, 40)
    parse, parsed = event_cleaning._parse_events, threading.Event()
    monkeypatch.setattr(event_cleaning, "_parse_events", lambda *args: (parse(*args), parsed.set()))
    rules = event_cleaning.EventRules()
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        # the first day creates the cleaning's tables (a table created takes the turn too)
        event_cleaning.clean_event_lines(con, iter([(day_before, day, landing.read_lines(first))]), rules)
        parsed.clear()
        outcome: dict = {}
        _while_another_process_holds_the_turn(
            catalog, tmp_path,
            lambda: outcome.update(event_cleaning.clean_event_lines(
                con, iter([(day, day + timedelta(days=1), landing.read_lines(second))]), rules)),
            while_held=lambda: parsed.wait(30) or pytest.fail("the parse waited for the turn"))
        assert outcome == {"clean": 40}
        assert con.execute("SELECT partition_date, count(*) FROM clean_events GROUP BY ALL ORDER BY 1").fetchall() == [
            (day_before, 30), (day, 40)]


def test_priming_a_never_filled_table_waits_for_the_turn(tmp_path, monkeypatch):
    """Giving a table that never held a row its statistics is a commit of the lake's own (at a
    writing process's first connection, and after a step that created tables): it takes the turn.
    On a new lake with two workers, such commits beside clean_events' transaction made it fail."""
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    catalog = tmp_path / "shopverse.sqlite"
    _new_lake(catalog)
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        alias = con.execute("SELECT current_database()").fetchone()[0]
        primed: list[str] = []

        def create_and_prime() -> None:
            # created once the holder has connected (its own first connection primes what it finds)
            con.execute("CREATE TABLE never_filled (day INTEGER)")
            primed.extend(lake.prime_table_statistics(con, alias, catalog))

        _while_another_process_holds_the_turn(catalog, tmp_path, create_and_prime)
        assert primed == ["never_filled"]


def test_who_holds_and_who_waits_for_the_turn_and_a_long_wait_is_logged(tmp_path, monkeypatch, caplog):
    """The kernel's file locks say which process holds a SQLite lake's turn and which wait
    (``turn_holders``, what `shopverse warehouse info` prints); a writer that waited a second or
    more logs a warning naming the holder, so a slow step says why."""
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    catalog = tmp_path / "shopverse.sqlite"
    _new_lake(catalog)
    assert write_turns.turn_holders(catalog) == []
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(catalog), str(ready), str(stop)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert time.monotonic() < deadline and holder.poll() is None, "the holder did not take the turn"
            time.sleep(0.05)
        assert write_turns.turn_holders(catalog) == [write_turns.TurnHolder(holder.pid, False)]
        monkeypatch.setenv("SHOPVERSE_WAREHOUSE", f"ducklake:sqlite:{catalog}")
        assert f"  write turns   held by PID {holder.pid} (" in _shopverse("warehouse")
        with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
            caplog.set_level("WARNING", logger=write_turns.__name__)
            writer = threading.Thread(target=lambda: in_transaction(con, lambda: con.execute("DELETE FROM a WHERE day = 2")),
                                      daemon=True)
            writer.start()
            deadline = time.monotonic() + 30
            while write_turns.TurnHolder(os.getpid(), True) not in write_turns.turn_holders(catalog):
                assert time.monotonic() < deadline, write_turns.turn_holders(catalog)
                time.sleep(0.05)
            time.sleep(write_turns.WAIT_REPORTED_SECONDS + 0.2)
            stop.touch()
            writer.join(timeout=60)
            assert not writer.is_alive()
        [warning] = [r.getMessage() for r in caplog.records if r.name == write_turns.__name__]
        assert warning.startswith("waited ") and f"held by PID {holder.pid}" in warning, warning
    finally:
        stop.touch()
        holder.wait(timeout=60)
    assert write_turns.turn_holders(catalog) == []


def _shopverse(*argv: str) -> str:
    """The `shopverse` command's output, run in this process (main's parser)."""
    import contextlib
    import io

    from shopverse_platform.cli.main import build_parser

    args = build_parser().parse_args(list(argv))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert args.func(args) == 0
    return out.getvalue()
