"""Steps of a run on the workers of an existing distributed engine (issue 16): dagster-celery with a
real Redis broker and two `shopverse celery-worker` processes, all on loopback, sharing a DuckLake
warehouse catalogued in a real PostgreSQL (scripts/services/postgres.sh on a free port), its data path and
the Dagster instance; the tables equal the ones a single process builds on a DuckDB file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from shopverse_platform.lib.simulator.traffic import simulate
from shopverse_platform.lib.warehouse import lake
from shopverse_platform_tests.conftest import free_port, free_ports, stop_process_group
from shopverse_platform_tests.lineage.conftest import _script
from shopverse_platform_tests.warehouse.test_ducklake import _command, assert_same_tables, snapshot

pytestmark = pytest.mark.services

FIRST = date(2026, 11, 9)
LAST = FIRST + timedelta(days=3)


def _wait_for(predicate, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} not ready in {timeout:.0f}s:\n" + "\n".join(
        f"--- {log}\n{log.read_text()[-2000:]}" for log in logs if log.exists()))


@pytest.fixture
def lake_catalogued_in_postgres(tmp_path, monkeypatch):
    """A PostgreSQL cluster of the project's own script on a free port, a database for the lake's
    catalog, the Parquet files under tmp_path: $SHOPVERSE_WAREHOUSE and its data path set."""
    port = free_ports(1)[0]
    env = {**os.environ, "SHOPVERSE_SERVICES_HOME": str(tmp_path / "services"), "SHOPVERSE_PG_PORT": str(port)}
    try:
        _script(env, "postgres.sh", "start")
        _script(env, "postgres.sh", "createdb", "shopverse_lake")
        monkeypatch.setenv("SHOPVERSE_WAREHOUSE", "ducklake:postgres:dbname=shopverse_lake host=127.0.0.1 "
                           f"port={port} user=shopverse password=shopverse")
        monkeypatch.setenv("SHOPVERSE_WAREHOUSE_DATA_PATH", str(tmp_path / "lake-data"))
        yield os.environ["SHOPVERSE_WAREHOUSE"]
    finally:
        lake.release_instances()
        for args in (("stop",), ("destroy",)):
            try:
                _script(env, "postgres.sh", *args, timeout=120)
            except Exception as error:  # noqa: BLE001 - keep stopping the rest
                print(f"cleanup: {error}")


@pytest.fixture
def broker_and_two_workers(lake_catalogued_in_postgres, tmp_path, monkeypatch):
    """Redis (Debian's redis-server) on a free port and two Celery workers, each started in a
    session of its own and stopped by its PID's process group."""
    redis = shutil.which("redis-server")
    if redis is None:
        pytest.skip("redis-server is not installed (scripts/services/install.sh redis)")
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setenv("SHOPVERSE_CELERY_BROKER", broker)
    monkeypatch.setenv("SHOPVERSE_LANDING_DIR", str(tmp_path / "landing"))
    processes: list[subprocess.Popen] = []
    logs = [tmp_path / "redis.log", tmp_path / "w1.log", tmp_path / "w2.log"]
    try:
        with logs[0].open("w") as out:
            processes.append(subprocess.Popen(
                [redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(tmp_path)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        _wait_for(lambda: "Ready to accept connections" in logs[0].read_text(), 30, "redis-server", logs)
        for name, log in (("w1", logs[1]), ("w2", logs[2])):
            with log.open("w") as out:
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "shopverse_platform.cli.main", "celery-worker", "--name", f"{name}@shopverse-test"],
                    stdout=out, stderr=subprocess.STDOUT, env={**os.environ}, start_new_session=True))
        for log in logs[1:]:
            _wait_for(lambda log=log: " ready." in log.read_text(), 90, log.stem, logs)
        yield broker, logs
    finally:
        for process in reversed(processes):
            stop_process_group(process, timeout=30)


def test_a_run_on_two_celery_workers_builds_the_same_tables_as_one_process(broker_and_two_workers, tmp_path, monkeypatch, capsys):
    broker, logs = broker_and_two_workers
    simulate(tmp_path / "landing", users=60, days=(LAST - FIRST).days + 1, start=FIRST, seed=11, faults=0.002)
    monkeypatch.chdir(tmp_path)
    setting = os.environ["SHOPVERSE_WAREHOUSE"]
    out = _command(monkeypatch, capsys, setting, "backfill", "--start", FIRST.isoformat(), "--end", LAST.isoformat(),
                   "--select", "*", "--reports", "none", "--celery")
    assert f"daily_job {FIRST}..{LAST}: ok" in out, out
    assert list((tmp_path / "lake-data").rglob("*.parquet")), "the workers wrote the lake's shared data path"

    with dg.DagsterInstance.get() as instance:
        [run] = [r for r in instance.get_runs() if r.job_name == "daily_job"]
        assert run.run_config["execution"]["config"]["celery"]["broker"] == broker
        delegated = [record.event_log_entry for record in
                     instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
                     if "in celery worker" in (record.event_log_entry.dagster_event.message or "")]
        workers = {entry.dagster_event.engine_event_data.metadata["Celery worker"].value for entry in delegated}
        starts = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
    # every step went through the broker, and both workers executed some
    started = {record.event_log_entry.step_key for record in starts}
    assert len(started) > 10 and started <= {entry.step_key for entry in delegated}
    assert workers == {"w1@shopverse-test", "w2@shopverse-test"}, workers
    assert all(record.event_log_entry.dagster_event.pid != os.getpid() for record in starts)

    # the same days, one process, a DuckDB file: the same tables
    file = str(tmp_path / "file" / "shopverse.duckdb")
    monkeypatch.delenv("SHOPVERSE_CELERY_BROKER")
    _command(monkeypatch, capsys, file, "backfill", "--start", FIRST.isoformat(), "--end", LAST.isoformat(),
             "--select", "*", "--reports", "none")
    assert_same_tables(snapshot(setting), snapshot(file))
