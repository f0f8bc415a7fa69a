"""Steps of a run on the workers of an existing distributed engine (issue 16): dagster-celery with a
real Redis broker and two `shopverse celery-worker` processes, all on loopback, sharing a DuckLake
warehouse catalogued in a real PostgreSQL (scripts/services/postgres.sh on a free port), its data path and
the Dagster instance; the tables equal the ones a single process builds on a DuckDB file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from shopverse_platform.lib.simulator.traffic import simulate
from shopverse_platform.lib.warehouse import lake
from shopverse_platform_tests import celery_broker
from shopverse_platform_tests.conftest import free_ports
from shopverse_platform_tests.lineage.conftest import _script
from shopverse_platform_tests.warehouse.test_ducklake import _command, assert_same_tables, snapshot

pytestmark = pytest.mark.services

FIRST = date(2026, 11, 9)
LAST = FIRST + timedelta(days=3)


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


def _broker_and_workers(tmp_path, monkeypatch, names: tuple[str, ...]):
    """Redis on a free port and a Celery worker of each name (``w1`` runs as ``w1@shopverse-test``),
    shopverse_platform_tests/celery_broker.py's: yields the broker's URL, the logs, and the workers'
    processes by name; the broker is this process's $SHOPVERSE_CELERY_BROKER meanwhile."""
    if not celery_broker.redis_available():
        pytest.skip("redis-server is not installed (scripts/services/install.sh redis)")
    monkeypatch.setenv("SHOPVERSE_LANDING_DIR", str(tmp_path / "landing"))
    with celery_broker.redis_and_workers(tmp_path, tuple(f"{name}@shopverse-test" for name in names),
                                         os.environ) as (broker, logs, workers):
        monkeypatch.setenv("SHOPVERSE_CELERY_BROKER", broker)
        yield broker, logs, {name.split("@")[0]: process for name, process in workers.items()}


@pytest.fixture
def broker_and_two_workers(lake_catalogued_in_postgres, tmp_path, monkeypatch):
    """Redis on a free port and two Celery workers, w1 and w2 (``_broker_and_workers``)."""
    yield from _broker_and_workers(tmp_path, monkeypatch, ("w1", "w2"))


def test_a_run_on_two_celery_workers_builds_the_same_tables_as_one_process(broker_and_two_workers, tmp_path, monkeypatch, capsys):
    broker, logs, _ = broker_and_two_workers
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

    _assert_one_process_builds_the_same_tables(monkeypatch, capsys, tmp_path, setting, FIRST, LAST)


def _assert_one_process_builds_the_same_tables(monkeypatch, capsys, tmp_path: Path, setting: str, first: date,
                                                last: date) -> None:
    """The same days built by one process on a DuckDB file give the tables ``setting`` holds."""
    file = str(tmp_path / "file" / "shopverse.duckdb")
    monkeypatch.delenv("SHOPVERSE_CELERY_BROKER")
    _command(monkeypatch, capsys, file, "backfill", "--start", first.isoformat(), "--end", last.isoformat(),
             "--select", "*", "--reports", "none")
    assert_same_tables(snapshot(setting), snapshot(file))


@pytest.fixture
def broker_without_workers(tmp_path, monkeypatch):
    """Redis on a free port, and no Celery worker listening on it."""
    for broker, _, _ in _broker_and_workers(tmp_path, monkeypatch, ()):  # stopped when the loop resumes
        yield broker


def test_a_run_for_celery_workers_that_are_not_there_fails_at_once_instead_of_waiting_for_ever(
        broker_without_workers, tmp_path, monkeypatch, capsys):
    """No worker listens on the broker: `backfill --celery` says so in one line, and a run launched
    with the Celery executor anyway (from the UI, or a deployment whose default it is) fails at its
    start naming the broker. Before, the run waited for ever for tasks nobody took, at 60 % of a
    core, and ignored SIGTERM and SIGINT (its executor then waits for the revoked tasks too)."""
    from shopverse_platform.cli.backfill import backfill
    from shopverse_platform.cli.main import main
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run

    from shopverse_platform.lib.paths import PROJECT_ROOT

    from shopverse_platform.defs.automation.run_workers import celery_settings
    from shopverse_platform.definitions import defs

    monkeypatch.setenv("SHOPVERSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", f"ducklake:sqlite:{tmp_path / 'lake' / 'shopverse.sqlite'}")
    monkeypatch.setenv("SHOPVERSE_LANDING_DIR", str(tmp_path / "landing"))
    simulate(tmp_path / "landing", users=20, days=1, start=FIRST, seed=11)
    assert main(["backfill", "--start", FIRST.isoformat(), "--end", FIRST.isoformat(), "--celery"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"shopverse backfill: no Celery worker answered on {broker_without_workers}") and err.count("\n") == 1

    started = time.monotonic()
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "dagster_home")) as instance:  # runs in processes
        # in this process (the shopverse command's own runs, the check before it skipped): failed at its start
        [stage] = backfill(defs(), instance, FIRST, FIRST, weekly=False, reports="none", celery=True)
        [own] = instance.get_runs()
        assert not stage.success and own.status == dg.DagsterRunStatus.FAILURE
        failures = instance.get_records_for_run(own.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        # as a run worker executes a run the daemon launched (errors recorded, not raised): a failed run
        job = defs().resolve_job_def("daily_job")
        run = instance.create_run_for_job(job_def=job, run_config={"execution": {"config": {"celery": celery_settings()}}},
                                          tags={"dagster/partition": FIRST.isoformat()})
        reconstructable = ReconstructableRepository.for_module(
            "shopverse_platform.definitions", "defs", str(PROJECT_ROOT)).get_reconstructable_job("daily_job")
        execute_run(reconstructable, run, instance, raise_on_error=False)
        failed = instance.get_run_by_id(run.run_id)
        failure = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert failed.status == dg.DagsterRunStatus.FAILURE
    assert time.monotonic() - started < 120  # they ended: no worker's result is waited for
    for record in (*failures, *failure):
        assert "no Celery worker answered on" in str(record.event_log_entry.dagster_event.event_specific_data.error)
    lake.release_instances()


def _kill_when_it_executes_a_step(broker: str, worker: str, process: subprocess.Popen, killed: dict, *,
                                  states_in_redis: bool = True) -> threading.Thread:
    """A thread that kills ``process``'s whole group (the worker and its pool: its machine lost) with
    SIGKILL as soon as ``worker`` executes a step; ``killed`` gets the task's id. Seen in the task
    states the workers store in Redis (the result backend), or, with ``states_in_redis`` False (an
    ``rpc://`` backend sends them to the run as messages), in the worker's own answer to ``inspect
    active``: a task its pool process has begun (``time_start``) and still executes 0.2 s later, time
    for its start to reach the run (a step done by then is let go: w1 killed idle loses no step)."""
    import redis as redis_client
    from celery import Celery

    def started_step() -> str | None:
        if states_in_redis:
            meta = _started_task(client, worker)
            return meta["task_id"] if meta else None
        def begun() -> set[str]:
            active = app.control.inspect(destination=[worker], timeout=0.5, limit=1).active() or {}
            return {task["id"] for task in active.get(worker) or [] if task.get("time_start")}

        first = begun()
        if not first:
            return None
        time.sleep(0.2)
        still = first & begun()
        return next(iter(still)) if still else None

    def watch() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            task = started_step()
            if task is not None:
                os.killpg(process.pid, signal.SIGKILL)
                killed["task"] = task
                return
            time.sleep(0.05)

    client, app = redis_client.Redis.from_url(broker), Celery(broker=broker)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _started_task(client, worker: str | None = None) -> dict | None:
    """A task the result backend (Redis, ``client``) stores as started, by ``worker`` when given:
    its stored state, whose ``result`` names the worker (``hostname``) and its pool process (``pid``)."""
    for key in client.scan_iter("celery-task-meta-*"):
        meta = json.loads(client.get(key) or "{}")
        if meta.get("status") == "STARTED" and (worker is None or (meta.get("result") or {}).get("hostname") == worker):
            return meta
    return None


def _executed_by(instance: dg.DagsterInstance, run_id: str, step: str) -> list[str]:
    """The Celery workers that took ``step`` of the run, in order (dagster-celery's engine events)."""
    return [entry.event_log_entry.dagster_event.engine_event_data.metadata["Celery worker"].value
            for entry in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
            if entry.event_log_entry.step_key == step
            and "in celery worker" in (entry.event_log_entry.dagster_event.message or "")]


def _run_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [record.event_log_entry.message or "" for record in instance.get_records_for_run(run_id).records]


def _step_failures(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Each failed step's error message, as the run's STEP_FAILURE events record it."""
    return {record.event_log_entry.step_key: record.event_log_entry.dagster_event.event_specific_data.error.message
            for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records}


def test_a_step_whose_celery_worker_dies_is_taken_by_the_other_worker(broker_and_two_workers, tmp_path, monkeypatch, capsys):
    """w1 is killed with its pool (SIGKILL to its process group: its machine lost) while it executes
    a step. Before, the run waited for that step's result for ever (the task was acknowledged when
    w1 started it, so the broker never gives it to w2). Now the run sees w1 stop answering, submits
    the step again, w2 executes it, the run succeeds, and the tables equal one process's build."""
    broker, logs, workers = broker_and_two_workers
    last = FIRST + timedelta(days=1)
    simulate(tmp_path / "landing", users=60, days=2, start=FIRST, seed=11, faults=0.002)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPVERSE_CELERY_WORKER_LOST_SECONDS", "6")
    setting = os.environ["SHOPVERSE_WAREHOUSE"]
    killed: dict = {}
    watcher = _kill_when_it_executes_a_step(broker, "w1@shopverse-test", workers["w1"], killed)
    out = _command(monkeypatch, capsys, setting, "backfill", "--start", FIRST.isoformat(), "--end", last.isoformat(),
                   "--select", "*", "--reports", "none", "--celery")
    watcher.join(timeout=5)
    assert "task" in killed, "w1 was never seen executing a step"
    assert workers["w1"].poll() is not None
    assert f"daily_job {FIRST}..{last}: ok" in out, out

    with dg.DagsterInstance.get() as instance:
        [run] = [r for r in instance.get_runs() if r.job_name == "daily_job"]
        messages = _run_messages(instance, run.run_id)
        [taken_again] = [m for m in messages if "submitted again for another worker" in m]
        assert taken_again.startswith("Celery worker w1@shopverse-test, which was executing step "), taken_again
        step = taken_again.split("executing step ")[1].split(",")[0]
        executed_by = _executed_by(instance, run.run_id, step)
        successes = {r.event_log_entry.step_key for r in
                     instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records}
    assert executed_by[-1] == "w2@shopverse-test", executed_by  # the dead worker's result never came
    assert step in successes
    _assert_one_process_builds_the_same_tables(monkeypatch, capsys, tmp_path, setting, FIRST, last)


@pytest.fixture
def broker_and_one_worker(tmp_path, monkeypatch):
    """A DuckLake catalogued in SQLite under tmp_path, Redis on a free port and one Celery worker, w1."""
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", f"ducklake:sqlite:{tmp_path / 'lake' / 'shopverse.sqlite'}")
    try:
        yield from _broker_and_workers(tmp_path, monkeypatch, ("w1",))
    finally:
        lake.release_instances()


def test_a_run_whose_only_celery_worker_dies_fails_naming_it_instead_of_waiting_for_ever(
        broker_and_one_worker, tmp_path, monkeypatch, capsys):
    """The only worker is killed while it executes a step: the step is submitted again, nobody takes
    it, and the run fails, its failure naming the dead worker's step and what to start, once no worker
    has answered for $SHOPVERSE_CELERY_WORKER_LOST_SECONDS. Before, it waited for ever."""
    from shopverse_platform.cli.main import main

    broker, logs, workers = broker_and_one_worker
    simulate(tmp_path / "landing", users=30, days=1, start=FIRST, seed=11)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPVERSE_CELERY_WORKER_LOST_SECONDS", "4")
    killed: dict = {}
    watcher = _kill_when_it_executes_a_step(broker, "w1@shopverse-test", workers["w1"], killed)
    started = time.monotonic()
    code = main(["backfill", "--start", FIRST.isoformat(), "--end", FIRST.isoformat(), "--reports", "none", "--celery"])
    ended = time.monotonic() - started
    watcher.join(timeout=5)
    assert "task" in killed, "w1 was never seen executing a step"
    assert code != 0, capsys.readouterr()
    assert ended < 180  # it ended: the step's result was not waited for

    with dg.DagsterInstance.get() as instance:
        [run] = [r for r in instance.get_runs() if r.job_name == "daily_job"]
        assert run.status == dg.DagsterRunStatus.FAILURE
        messages = _run_messages(instance, run.run_id)
        failures = _step_failures(instance, run.run_id)
    [taken_again] = [m for m in messages if "submitted again for another worker" in m]
    step = taken_again.split("executing step ")[1].split(",")[0]
    assert step in failures, failures
    assert failures[step].startswith(f"step {step} waited") and "in the queue while no Celery worker answered" in failures[step]
    assert "Start `shopverse celery-worker`" in failures[step]


@pytest.fixture
def two_workers_answering_over_rpc(tmp_path, monkeypatch):
    """A DuckLake catalogued in SQLite under tmp_path, Redis as the broker, ``rpc://`` as the result
    backend (dagster-celery's own default: each task's states and result sent back to the run as
    messages, nothing stored in Redis) for the run and the workers, and two workers, w1 and w2."""
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", f"ducklake:sqlite:{tmp_path / 'lake' / 'shopverse.sqlite'}")
    monkeypatch.setenv("SHOPVERSE_CELERY_BACKEND", "rpc://")
    try:
        yield from _broker_and_workers(tmp_path, monkeypatch, ("w1", "w2"))
    finally:
        lake.release_instances()


def test_a_lost_worker_is_seen_with_the_rpc_result_backend_too(two_workers_answering_over_rpc, tmp_path, monkeypatch, capsys):
    """The run learns which worker started a step from the result backend; with ``rpc://`` that is a
    message to the run, not a stored record. w1 killed while it executes a step: the step is
    submitted again and w2 executes it, as with Redis as the backend."""
    from shopverse_platform.cli.main import main

    broker, logs, workers = two_workers_answering_over_rpc
    simulate(tmp_path / "landing", users=30, days=1, start=FIRST, seed=11)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPVERSE_CELERY_WORKER_LOST_SECONDS", "4")
    killed: dict = {}
    watcher = _kill_when_it_executes_a_step(broker, "w1@shopverse-test", workers["w1"], killed, states_in_redis=False)
    code = main(["backfill", "--start", FIRST.isoformat(), "--end", FIRST.isoformat(), "--reports", "none", "--celery"])
    watcher.join(timeout=5)
    assert "task" in killed, "w1 was never seen executing a step"
    assert code == 0, capsys.readouterr()

    with dg.DagsterInstance.get() as instance:
        [run] = [r for r in instance.get_runs() if r.job_name == "daily_job"]
        assert run.run_config["execution"]["config"]["celery"]["backend"] == "rpc://"
        [taken_again] = [m for m in _run_messages(instance, run.run_id) if "submitted again for another worker" in m]
        step = taken_again.split("executing step ")[1].split(",")[0]
        executed_by = _executed_by(instance, run.run_id, step)
    assert taken_again.startswith("Celery worker w1@shopverse-test, which was executing step "), taken_again
    assert executed_by[-1] == "w2@shopverse-test", executed_by
    import redis as redis_client

    stored = list(redis_client.Redis.from_url(broker).scan_iter("celery-task-meta-*"))
    assert not stored, "rpc:// stores no task state in Redis"


def test_steps_lost_from_the_brokers_queue_are_submitted_again_once_the_workers_are_idle(
        broker_and_one_worker, tmp_path, monkeypatch, capsys):
    """While w1 executes a step and others wait in the broker's queue, the queue is emptied (what a
    broker restarted without its data does). Before, the run waited for the lost steps for ever, its
    worker idle. Now, every worker idle and the steps still queued for
    $SHOPVERSE_CELERY_WORKER_LOST_SECONDS, they are submitted again, and the run succeeds."""
    import redis as redis_client

    from shopverse_platform.cli.main import main

    broker, logs, workers = broker_and_one_worker
    simulate(tmp_path / "landing", users=30, days=1, start=FIRST, seed=11)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPVERSE_CELERY_WORKER_LOST_SECONDS", "4")
    client = redis_client.Redis.from_url(broker)
    emptied: list[bytes] = []

    def empty_the_queue_while_steps_wait() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            queues = [key for key in client.scan_iter("dagster*") if client.type(key) == b"list" and client.llen(key)]
            if queues:
                emptied.extend(queues)
                client.delete(*queues)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=empty_the_queue_while_steps_wait, daemon=True)
    thread.start()
    code = main(["backfill", "--start", FIRST.isoformat(), "--end", FIRST.isoformat(), "--reports", "none", "--celery"])
    thread.join(timeout=5)
    out = capsys.readouterr().out
    assert emptied, "no step was ever seen waiting in the broker's queue"
    assert code == 0, out

    with dg.DagsterInstance.get() as instance:
        [run] = [r for r in instance.get_runs() if r.job_name == "daily_job"]
        assert run.status == dg.DagsterRunStatus.SUCCESS
        taken_again = [m for m in _run_messages(instance, run.run_id) if "submitted again for another worker" in m]
    assert taken_again and all("while every Celery worker (w1@shopverse-test) was idle: it is not in a queue they take"
                               in m for m in taken_again), taken_again


def test_a_step_whose_pool_process_is_killed_fails_the_run_at_once(broker_and_one_worker, tmp_path, monkeypatch, capsys):
    """The process executing a step is killed (the kernel's OOM killer, say) while its worker lives
    on: Celery records the task failed (WorkerLostError), and that is the step's failure: the steps
    that do not depend on it go on, and the run fails, neither waiting nor submitting the step again
    (a step that exhausted memory would do it again). Before, dagster-celery's loop stopped
    submitting steps but waited for the ones it had not submitted: the run hung (past 300 s)."""
    import redis as redis_client

    from shopverse_platform.cli.main import main

    broker, logs, workers = broker_and_one_worker
    simulate(tmp_path / "landing", users=30, days=1, start=FIRST, seed=11)
    monkeypatch.chdir(tmp_path)
    client = redis_client.Redis.from_url(broker)
    killed: dict = {}

    def kill_the_step_process() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            meta = _started_task(client)
            if meta:
                os.kill(meta["result"]["pid"], signal.SIGKILL)
                killed.update(meta["result"])
                return
            time.sleep(0.05)

    thread = threading.Thread(target=kill_the_step_process, daemon=True)
    thread.start()
    started = time.monotonic()
    code = main(["backfill", "--start", FIRST.isoformat(), "--end", FIRST.isoformat(), "--reports", "none", "--celery"])
    ended = time.monotonic() - started
    thread.join(timeout=5)
    assert killed and killed["pid"] != workers["w1"].pid, killed
    assert code != 0 and workers["w1"].poll() is None  # the worker lives on
    assert ended < 120
    with dg.DagsterInstance.get() as instance:
        [run] = [r for r in instance.get_runs() if r.job_name == "daily_job"]
        assert run.status == dg.DagsterRunStatus.FAILURE
        failures = _step_failures(instance, run.run_id)
        successes = {r.event_log_entry.step_key for r in
                     instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records}
        assert not [m for m in _run_messages(instance, run.run_id) if "submitted again" in m]
    assert len(failures) == 1 and "signal 9 (SIGKILL)" in next(iter(failures.values())), failures
    assert successes  # the steps that do not depend on it went on