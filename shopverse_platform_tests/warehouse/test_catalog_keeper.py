"""`shopverse warehouse keep-catalog-open` (lib/warehouse/catalog_keeper.py): while it runs, a lake
process closing its connections is not the catalog's last one, so SQLite neither checkpoints nor
deletes the write-ahead log under an exclusive lock (what stalled readers a second at a time); it
never creates a catalog, and picks up one created after it started."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.automation.processes import alive
from shopverse_platform.lib.warehouse import lake


def _write_and_close(catalog: Path, day: int) -> None:
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        con.execute("CREATE TABLE IF NOT EXISTS days (day INTEGER)")
        con.execute("INSERT INTO days VALUES (?)", [day])
    lake.release_instances()  # this process's last connection to the catalog closed


def _keeper(catalog: Path, output: Path) -> subprocess.Popen:
    with open(output, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "shopverse_platform.cli.main", "warehouse", "keep-catalog-open"],
                                env={**os.environ, "SHOPVERSE_WAREHOUSE": f"ducklake:sqlite:{catalog}"},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(path: Path, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {path}: {path.read_text() if path.exists() else '(no output)'}")


def test_the_log_outlives_a_lake_processes_last_close_while_the_keeper_holds_the_catalog(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    catalog = tmp_path / "shopverse.sqlite"
    wal = catalog.with_name(catalog.name + "-wal")
    # without a keeper the last close checkpoints the log and deletes it
    _write_and_close(catalog, 1)
    assert catalog.exists() and not wal.exists()

    output, later_output = tmp_path / "keeper.out", tmp_path / "later.out"
    other = tmp_path / "later.sqlite"
    keeper, later = (_keeper(catalog, output), _keeper(other, later_output))
    try:
        _wait_for(output, f"holding catalog {catalog} open")
        _write_and_close(catalog, 2)
        assert wal.exists(), "the keeper's connection is the last one: the log stays"
        with Warehouse(path=f"ducklake:sqlite:{catalog}").connect(read_only=True) as con:
            assert con.execute("SELECT sum(day) FROM days").fetchone() == (3,)
        lake.release_instances()

        _wait_for(later_output, "keeping")
        time.sleep(2.5)  # longer than its poll: a keeper never creates a catalog
        assert not other.exists()
        _write_and_close(other, 1)  # the lake created after the keeper started is picked up
        _wait_for(later_output, f"holding catalog {other} open")
        _write_and_close(other, 2)
        assert other.with_name(other.name + "-wal").exists()
    finally:
        for process in (keeper, later):
            process.terminate()
            process.wait(timeout=30)
    assert keeper.returncode == later.returncode == 0 and not alive(keeper.pid)
    _write_and_close(catalog, 3)  # the keeper gone, the lake's last close deletes the log again
    assert not wal.exists()


LAKE_PROCESS = """
import sys, time
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse import lake
with Warehouse(path=sys.argv[1]).connect() as con:
    con.execute("CREATE TABLE IF NOT EXISTS t AS SELECT 1 AS x")
print(next(k.pid for k in lake._keepers.values()), flush=True)
time.sleep(600)
"""


def test_every_lake_process_keeps_its_catalog_open_while_it_lives(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    monkeypatch.delenv(lake.KEEP_CATALOG_OPEN_VARIABLE, raising=False)
    catalog = tmp_path / "shopverse.sqlite"
    lake.release_instances()
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    [keeper] = [k for (pid, path), k in lake._keepers.items() if pid == os.getpid() and path == catalog]
    assert keeper.poll() is None
    lake.release_instances()  # ends it with the instances
    assert keeper.returncode is not None and not alive(keeper.pid)

    # a lake process killed outright: its keeper notices and ends within a second or so
    process = subprocess.Popen([sys.executable, "-c", LAKE_PROCESS, f"ducklake:sqlite:{catalog}"],
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    orphan = int(process.stdout.readline())
    assert alive(orphan)
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(orphan), "a keeper outlived its lake process"

    monkeypatch.setenv(lake.KEEP_CATALOG_OPEN_VARIABLE, "0")
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        con.execute("SELECT 1").fetchall()
    assert not [k for (pid, _), k in lake._keepers.items() if pid == os.getpid()]
    lake.release_instances()
