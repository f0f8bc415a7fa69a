"""One process at a time on the warehouse, enforced by an OS lock: a second process waits its turn
and says for whom (two `shopverse run` started together used to fail one of them on DuckDB's lock)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import duckdb
import pytest

from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse.lock import connect_with_retry, warehouse_lock

HOLD = """
import sys
from shopverse_platform.defs.resources import Warehouse
with Warehouse(path=sys.argv[1]).connect() as con:
    con.execute("CREATE TABLE IF NOT EXISTS t AS SELECT 1 AS x")
    print("holding", flush=True)
    sys.stdin.readline()
    con.execute("INSERT INTO t VALUES (2)")
"""


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


def test_a_second_process_waits_for_the_first_instead_of_failing(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        said: list[str] = []
        outcome: list[object] = []

        def second() -> None:
            with warehouse_lock(path, say=said.append):
                with duckdb.connect(str(path)) as con:
                    outcome.append(con.execute("SELECT sum(x) FROM t").fetchone()[0])

        waiter = threading.Thread(target=second)
        waiter.start()
        _wait_for(lambda: said)
        assert f"pid {holder.pid}" in said[0]  # it says whom it waits for
        assert outcome == [] and waiter.is_alive()  # ...and waits, rather than failing
        holder.stdin.write("go\n")
        holder.stdin.flush()
        waiter.join(60)
        assert outcome == [3]  # it ran after the first process had finished writing
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_is_reentrant_within_a_process_and_released_after(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    with warehouse.connect() as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
        with warehouse_lock(warehouse.resolved_path(), timeout=0.5):  # nested: does not wait for itself
            pass
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from shopverse_platform.lib.warehouse.lock import warehouse_lock; "
         "from pathlib import Path\nwith warehouse_lock(Path(sys.argv[1]), timeout=5): print('got it')",
         str(warehouse.resolved_path())], capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == "got it", probe.stderr


def test_a_process_outside_the_platform_is_named_after_a_bounded_wait(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    notebook = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert notebook.stdout.readline().strip() == "open"
        said: list[str] = []
        with pytest.raises(duckdb.IOException, match="outside the platform"):
            connect_with_retry(path, read_only=False, config={}, timeout=0.5, poll=0.1, say=said.append)
        assert said and "lock" in said[0].lower()
    finally:
        notebook.kill()
        notebook.wait()


def test_an_alert_does_not_wait_for_a_run_that_holds_the_warehouse(tmp_path):
    """The alert writer spools its row after its own short wait when a run holds the warehouse
    (with the OS lock, a plain connect would have waited for the whole run)."""
    import functools
    from datetime import datetime, timezone

    from shopverse_platform.lib.automation import alerts

    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        alert = alerts.Alert(
            alert_id="run_failure:r9", created_at=datetime.now(timezone.utc), kind="run_failure", severity="error",
            run_id="r9", job_name="daily_job", assets=(), partition_key=None, steps=(), error="boom", run_url="http://x/runs/r9")
        spool = tmp_path / "alerts.pending.ndjson"
        status = alerts.write_table(alert, functools.partial(Warehouse(path=str(path)).connect, wait_seconds=0), spool, 0.5)
        assert status.startswith("spooled: warehouse locked")
        assert "r9" in spool.read_text()
    finally:
        holder.kill()
        holder.wait()
