"""Runs whose worker process died are failed (defs/automation/run_workers.py): the launcher's health
check on hand-made runs, and a real `dagster-daemon` whose run worker dies with its code server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.launcher import WorkerStatus

from shopverse_platform.defs.automation.run_workers import ShopverseRunLauncher, steps_executor
from shopverse_platform.defs.resources import THREADS_VARIABLE, Warehouse
from shopverse_platform.lib.automation.processes import RUNNER_TAG, runner_tag
from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform_tests.automation.test_daemon import DaemonStack
from shopverse_platform_tests.conftest import stop_process_group

NOOP = dg.Definitions(jobs=[dg.JobDefinition(graph_def=dg.GraphDefinition("noop", node_defs=[]))]).resolve_job_def("noop")


def _proc_start(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]


def _proc_parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_health_check_fails_only_a_run_whose_process_on_this_host_is_gone():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_start = _proc_start(dead.pid)
    dead.wait()
    host = runner_tag().split(":")[0]
    launcher = ShopverseRunLauncher()
    with dg.instance_for_test() as instance:
        def run(tags):
            return instance.create_run_for_job(NOOP, tags=tags)

        assert launcher.supports_check_run_worker_health
        gone = launcher.check_run_worker_health(run({RUNNER_TAG: f"{host}:{dead.pid}:{dead_start}"}))
        assert gone.status == WorkerStatus.FAILED and f"pid {dead.pid} on {host}" in gone.msg
        # this process, another host's process, an untagged run (worker still loading): running
        for tags in ({RUNNER_TAG: runner_tag()}, {RUNNER_TAG: f"elsewhere-{host}:{dead.pid}:{dead_start}"}, {}):
            assert launcher.check_run_worker_health(run(tags)).status == WorkerStatus.RUNNING, tags
        # the PID of this process with another start time: the number was handed out again
        reused = f"{host}:{os.getpid()}:{int(_proc_start(os.getpid())) - 1}"
        assert launcher.check_run_worker_health(run({RUNNER_TAG: reused})).status == WorkerStatus.FAILED


@pytest.mark.services
def test_a_run_whose_worker_died_with_the_stack_is_failed_and_the_queue_moves_on(tmp_path, monkeypatch):
    """The daemon, its code server and the run worker killed with -9 (by PID: a crash, an OOM kill,
    a closed laptop lid), then the daemon started again: nothing was left to report the dead worker,
    Dagster's DefaultRunLauncher has no health check, so the run stayed STARTED until max_runtime
    (6 h) and the queued run behind it waited. The new daemon must fail it and run the next one."""
    stack = DaemonStack.prepare(tmp_path, monkeypatch)
    log_path = tmp_path / "daemon.log"
    log = log_path.open("w")

    def start_daemon() -> subprocess.Popen:
        return stack.start(log)

    def wait_for(what, predicate, timeout, daemon):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert daemon.poll() is None, "dagster-daemon exited:\n" + log_path.read_text()[-4000:]
            if found := predicate():
                return found
            time.sleep(0.2)
        pytest.fail(f"{what} not within {timeout}s\n" + log_path.read_text()[-4000:])

    first = start_daemon()
    second = None
    try:
        with dg.DagsterInstance.get() as instance:
            def landing_runs():
                return instance.get_runs(dg.RunsFilter(tags={"shopverse/trigger": "landing_zone_sensor"}))

            def tagged_worker():
                runs = landing_runs()
                started = [r for r in runs if r.status == dg.DagsterRunStatus.STARTED and RUNNER_TAG in r.tags]
                return started[0] if len(runs) == 2 and started else None

            victim = wait_for("a started run with its worker's tag, and a second run", tagged_worker, 240, first)
            host, pid, start = victim.tags[RUNNER_TAG].split(":")
            worker = int(pid)
            # The tag names the run worker: the process of Dagster's own engine event.
            events = [e.message for e in instance.all_logs(victim.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)]
            assert f"Started process for run (pid: {worker})." in events, events
            assert _proc_start(worker) == start
            code_server = _proc_parent(worker)
            assert "grpc" in Path(f"/proc/{code_server}/cmdline").read_text().split("\0"), "the worker's parent is not the code server"
            for pid in (first.pid, code_server, worker):  # the daemon first: nothing sees the worker die
                os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            first.wait(timeout=10)
            queued = next(r for r in landing_runs() if r.run_id != victim.run_id)
            assert instance.get_run_by_id(victim.run_id).status == dg.DagsterRunStatus.STARTED
            assert queued.status == dg.DagsterRunStatus.QUEUED

            second = start_daemon()  # the stack comes back
            failed = wait_for("the dead run failed", lambda: (r := instance.get_run_by_id(victim.run_id)).is_finished and r,
                              90, second)
            print(f"dead run marked failed {time.monotonic() - killed:.1f}s after kill -9")
            assert failed.status == dg.DagsterRunStatus.FAILURE
            failure = instance.all_logs(victim.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            assert f"pid {worker} on {host}" in failure[-1].message, failure[-1].message

            # the queued run behind it starts, and ends on its own
            done = wait_for("the queued run finished", lambda: (r := instance.get_run_by_id(queued.run_id)).is_finished and r,
                            240, second)
            assert done.status == dg.DagsterRunStatus.SUCCESS, [
                e.message for e in instance.all_logs(queued.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)]
            assert (instance.get_run_record_by_id(queued.run_id).start_time
                    >= instance.get_run_record_by_id(victim.run_id).end_time)
    finally:
        if second is not None:
            stop_process_group(second, timeout=30)
        try:  # whatever the killed daemon's session still holds (started by this test)
            os.killpg(first.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


@dg.op
def _whether_the_definitions_were_built_before_this_step() -> bool:
    from shopverse_platform import definitions

    return definitions.prebuilt is not None


@dg.op
def _this_steps_duckdb_threads(warehouse: Warehouse) -> int:
    with warehouse.connect() as con:
        return con.execute("SELECT current_setting('threads')").fetchone()[0]


@dg.job(executor_def=steps_executor, resource_defs={"warehouse": Warehouse()})
def _two_step_job():
    _whether_the_definitions_were_built_before_this_step()
    _this_steps_duckdb_threads()


def test_a_run_launched_with_steps_in_processes_forks_them_from_the_server_that_built_the_definitions(tmp_path):
    """A run whose config asks for ``multiprocess`` without naming how to start the processes (the UI's
    launchpad) forks its steps from the server `shopverse backfill --workers` names
    (cli/step_processes.py): the step's process finds the code location's definitions built. With
    Dagster's default (its job's module preloaded) every step's process built them again. And each
    step's DuckDB gets the machine's cores divided among the steps the run's config lets run at once
    (here 2), as `--workers 2` gives them; the step's log says so.

    The run is executed in a process of its own: a process has one forkserver, which keeps the
    environment it started with, so one started here would serve later tests' runs with this test's
    (their warehouse, their DAGSTER_HOME)."""
    code = textwrap.dedent("""
        import json, os, sys
        import dagster as dg
        from dagster._core.definitions.reconstruct import reconstructable
        from dagster._core.execution.api import execute_job
        from shopverse_platform_tests.automation.test_run_workers import _two_step_job
        with dg.instance_for_test(temp_dir=sys.argv[1]) as instance:
            with execute_job(reconstructable(_two_step_job), instance, run_config={
                    "execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}) as result:
                print(json.dumps({
                    "success": result.success, "pid": os.getpid(),
                    "built": result.output_for_node("_whether_the_definitions_were_built_before_this_step"),
                    "threads": result.output_for_node("_this_steps_duckdb_threads"),
                    "step_pids": sorted({e.pid for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START}),
                    "messages": [e.user_message for e in instance.all_logs(result.run_id)],
                }))
    """)
    env = {**os.environ, "SHOPVERSE_WAREHOUSE": str(tmp_path / "shopverse.duckdb")}
    env.pop(THREADS_VARIABLE, None)
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["success"] and outcome["built"] is True
    assert len(outcome["step_pids"]) == 2 and outcome["pid"] not in outcome["step_pids"]  # each step in a process of its own
    shared = max(1, (os.cpu_count() or 1) // 2)
    assert outcome["threads"] == shared
    assert any(f"DuckDB runs {shared} thread(s) in this step's process" in m for m in outcome["messages"]), outcome["messages"]
