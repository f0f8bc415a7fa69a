"""Fixtures for the deployment tests: free ports, a private state directory, and the production
configuration run for real (scripts/stack/prod_local.sh) with a private PostgreSQL cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from shopverse_platform.cli import readiness, stack, supervisor
from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform_tests.conftest import free_ports

ARTIFACTS = PROJECT_ROOT / "shopverse_platform_tests" / "artifacts"
# Variables of the developer's shell that would point the stack at other services.
FOREIGN = ("DAGSTER_HOME", "MLFLOW_TRACKING_URI", "OPENLINEAGE_URL", "SHOPVERSE_WAREHOUSE", "SHOPVERSE_LANDING_DIR",
           "SHOPVERSE_ORDER_EXPORTS", "SHOPVERSE_SERVICES_HOME", "SHOPVERSE_PG_HOME")


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (a private temp path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and supervisor.alive(int(entry.name)):
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def shared_temp_dir(prefix: str) -> Path:
    """A temp dir the 'postgres' OS user can traverse (PostgreSQL runs as that user under root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def last_complete_week(today: date | None = None) -> date:
    """The Monday of the last Monday-to-Sunday week that has ended (weekly partitions start on Monday)."""
    today = today or datetime.now(timezone.utc).date()
    return today - timedelta(days=today.weekday() + 7)


@dataclass
class ProdStack:
    root: Path
    env: dict[str, str]
    web: str
    mlflow: str
    marquez: str | None
    marquez_reason: str
    pg: dict[str, object]
    startup_seconds: float
    week: date
    runs: dict[str, str]  # job name -> run id, filled by the tests that launch them

    def psql_connect(self, db: str):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.pg["port"], user=self.pg["user"],
                                password=self.pg["password"], dbname=db, connect_timeout=10)


def _script(args: list[str], env: dict[str, str], timeout: float = 420) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# Cheap tests first, the production stack last: it is started once for test_prod_local and test_ui
# (package scope) and stopped right after them, so it never runs alongside `shopverse up`.
_FILE_ORDER = ("test_compose.py", "test_stack.py", "test_up.py", "test_prod_local.py", "test_ui.py")


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if Path(item.fspath).parent == here]
    mine = sorted((items[i] for i in slots), key=lambda item: _FILE_ORDER.index(Path(item.fspath).name)
                  if Path(item.fspath).name in _FILE_ORDER else len(_FILE_ORDER))
    for slot, item in zip(slots, mine):
        items[slot] = item


@pytest.fixture(scope="package")
def prod_stack() -> ProdStack:
    """scripts/stack/prod_local.sh start on private ports, a private PostgreSQL cluster and data dir;
    stopped at the end of the session, and checked to leave no process behind."""
    root = shared_temp_dir("shopverse-prod-")
    pg_port, web, grpc, mlflow, mq, mq_admin = free_ports(6)
    lib = os.environ.get("MARQUEZ_LIB_DIR") or str(PROJECT_ROOT / ".services" / "marquez" / "lib")
    env = clean_env(
        SHOPVERSE_SERVICES_HOME=root / "services", SHOPVERSE_PG_PORT=pg_port, SHOPVERSE_PROD_HOME=root / "stack",
        SHOPVERSE_PROD_WEBSERVER_PORT=web, SHOPVERSE_PROD_GRPC_PORT=grpc, SHOPVERSE_PROD_MLFLOW_PORT=mlflow,
        SHOPVERSE_PROD_MARQUEZ_PORT=mq, SHOPVERSE_PROD_MARQUEZ_ADMIN_PORT=mq_admin, MARQUEZ_LIB_DIR=lib,
        SHOPVERSE_DATA_DIR=root / "data",
    )
    choice = stack.marquez_choice(env, mq)
    started = time.monotonic()
    result = _script(["bash", "scripts/stack/prod_local.sh", "start"], env)
    startup = time.monotonic() - started
    state = stack.read_state(root / "stack") or {}
    try:
        assert result.returncode == 0, f"prod_local.sh start failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        yield ProdStack(
            root=root, env=env, web=f"http://127.0.0.1:{web}", mlflow=f"http://127.0.0.1:{mlflow}",
            marquez=choice.url, marquez_reason=choice.reason,
            pg={"port": pg_port, "user": env.get("SHOPVERSE_PG_USER", "shopverse"),
                "password": env.get("SHOPVERSE_PG_PASSWORD", "shopverse")},
            startup_seconds=state.get("startup_seconds", startup), week=last_complete_week(), runs={},
        )
    finally:
        logs = root / "stack" / "logs"
        if logs.is_dir():  # keep the service logs with the other test artifacts
            shutil.copytree(logs, ARTIFACTS / "prod_local_logs", dirs_exist_ok=True)
        stopped = _script(["bash", "scripts/stack/prod_local.sh", "stop"], env)
        _script(["bash", "scripts/services/postgres.sh", "destroy"], env)
        left = processes_mentioning(str(root))
        ports_open = [p for p in (pg_port, web, grpc, mlflow, mq, mq_admin) if readiness.port_open(p)]
        shutil.rmtree(root, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not left, f"processes left behind by prod_local.sh stop: {left}"
        assert not ports_open, f"ports still open after stop: {ports_open}"


# ----------------------------------------------------------------------------- Dagster GraphQL

LOCATION = {"repositoryLocationName": "shopverse_platform", "repositoryName": "__repository__"}
LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""
RUN_STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status jobName tags { key value } } } }"
INSTIGATORS = """query($s: RepositorySelector!) { repositoryOrError(repositorySelector: $s) { ... on Repository {
  sensors { id name sensorState { status } } schedules { id name scheduleState { status } } } } }"""


def launch_run(web: str, job: str, tags: dict[str, str]) -> str:
    params = {"selector": {**LOCATION, "jobName": job},
              "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}}
    result = readiness.graphql(web, LAUNCH, {"p": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def wait_for_run(web: str, run_id: str, timeout: float = 400) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = readiness.graphql(web, RUN_STATUS, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(1)
    raise AssertionError(f"run {run_id} still not finished after {timeout}s")


def instigators(web: str) -> dict:
    return readiness.graphql(web, INSTIGATORS, {"s": LOCATION})["repositoryOrError"]


@dataclass
class ProdRuns:
    first_day: date
    last_day: date
    week: date
    daily: str
    weekly: str
    seconds: dict[str, float]
    paused_sensors: list[str]

    def resume_sensors(self, web: str) -> None:
        """Put the paused sensors back to the status their code declares (running)."""
        for name in self.paused_sensors:
            readiness.graphql(web, "mutation($s: SensorSelector!) { resetSensor(sensorSelector: $s) { __typename } }",
                          {"s": {**LOCATION, "sensorName": name}})


# Enough shop traffic for the weekly models to find both classes in their training and validation
# windows (7-day labels), as small as that allows: run time is mostly per-step overhead anyway.
SIM_DAYS, SIM_USERS = 21, 1000


@pytest.fixture(scope="package")
def prod_runs(prod_stack: ProdStack) -> ProdRuns:
    """The daily job over three simulated weeks, then the weekly job for the last one, both
    launched through the webserver's GraphQL API on the production configuration.

    The sensors that launch runs by themselves (new landing-zone files, declarative automation)
    are paused, so that the one-run queue holds exactly the runs the tests launch; the UI test of
    the automation page resets them to the status the code declares (running)."""
    from shopverse_platform.lib.simulator.traffic import simulate

    web = prod_stack.web
    paused = [s for s in instigators(web)["sensors"] if s["sensorState"]["status"] == "RUNNING"]
    for sensor in paused:
        readiness.graphql(web, "mutation($id: String) { stopSensor(id: $id) { __typename } }", {"id": sensor["id"]})
    week = prod_stack.week
    last_day = week + timedelta(days=6)
    first_day = last_day - timedelta(days=SIM_DAYS - 1)
    simulate(Path(prod_stack.env["SHOPVERSE_DATA_DIR"]) / "landing", users=SIM_USERS, days=SIM_DAYS, start=first_day, seed=11)
    seconds = {}
    started = time.monotonic()
    daily = launch_run(web, "daily_job", {"dagster/asset_partition_range_start": first_day.isoformat(),
                                          "dagster/asset_partition_range_end": last_day.isoformat()})
    assert wait_for_run(web, daily) == "SUCCESS", f"daily_job run {daily} failed: see {web}/runs/{daily}"
    seconds["daily_job"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    weekly = launch_run(web, "weekly_job", {"dagster/partition": week.isoformat()})
    assert wait_for_run(web, weekly) == "SUCCESS", f"weekly_job run {weekly} failed: see {web}/runs/{weekly}"
    seconds["weekly_job"] = round(time.monotonic() - started, 1)
    return ProdRuns(first_day, last_day, week, daily, weekly, seconds, [s["name"] for s in paused])
