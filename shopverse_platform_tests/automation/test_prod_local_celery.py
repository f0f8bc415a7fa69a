"""The production configuration with docker-compose.yml's ``celery`` profile, run for real:
scripts/stack/prod_local.sh with $SHOPVERSE_PROD_CELERY_WORKERS=2 starts a Redis broker and two
`shopverse celery-worker` processes beside the code location, webserver and daemon; a daily run
launched through the webserver's GraphQL API has its steps executed by the two workers, and
compose's health check of a worker passes against them. Its own stack (the deployment tests' runs
without workers), stopped leaving nothing behind before those start."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from shopverse_platform.cli import readiness, stack
from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform_tests.conftest import free_ports
from shopverse_platform_tests.deployment.conftest import (
    _script, clean_env, instigators, last_complete_week, launch_run, processes_mentioning, shared_temp_dir, wait_for_run,
)

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def celery_stack():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/services/install.sh redis)")
    root = shared_temp_dir("shopverse-prod-celery-")
    pg_port, web, grpc, mlflow, redis = free_ports(5)
    env = clean_env(
        SHOPVERSE_SERVICES_HOME=root / "services", SHOPVERSE_PG_PORT=pg_port, SHOPVERSE_PROD_HOME=root / "stack",
        SHOPVERSE_PROD_WEBSERVER_PORT=web, SHOPVERSE_PROD_GRPC_PORT=grpc, SHOPVERSE_PROD_MLFLOW_PORT=mlflow,
        SHOPVERSE_PROD_REDIS_PORT=redis, SHOPVERSE_PROD_CELERY_WORKERS=2, SHOPVERSE_DATA_DIR=root / "data",
        MARQUEZ_LIB_DIR=root / "no-marquez",  # lineage is test_prod_local's: this stack runs without Marquez
    )
    started = _script(["bash", "scripts/stack/prod_local.sh", "start"], env)
    try:
        assert started.returncode == 0, f"prod_local.sh start failed:\n{started.stdout[-4000:]}\n{started.stderr[-6000:]}"
        yield env, f"http://127.0.0.1:{web}", started.stdout
    finally:
        logs = root / "stack" / "logs"
        if logs.is_dir():
            shutil.copytree(logs, PROJECT_ROOT / "shopverse_platform_tests" / "artifacts" / "prod_local_celery_logs",
                            dirs_exist_ok=True)
        stopped = _script(["bash", "scripts/stack/prod_local.sh", "stop"], env)
        _script(["bash", "scripts/services/postgres.sh", "destroy"], env)
        left = processes_mentioning(str(root))
        ports_open = [p for p in (pg_port, web, grpc, mlflow, redis) if readiness.port_open(p)]
        shutil.rmtree(root, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not left, f"processes left behind by prod_local.sh stop: {left}"
        assert not ports_open, f"ports still open after stop: {ports_open}"


def test_a_run_on_the_production_stack_has_its_steps_executed_by_its_celery_workers(celery_stack):
    from shopverse_platform.lib.simulator.traffic import simulate

    env, web, started = celery_stack
    host = socket.gethostname()
    broker = f"redis://127.0.0.1:{env['SHOPVERSE_PROD_REDIS_PORT']}/0"
    assert any(line.split() == ["Celery", "broker", broker] for line in started.splitlines()), started
    home = Path(env["SHOPVERSE_PROD_HOME"])
    assert {"redis", "celery-worker-1", "celery-worker-2"} <= {name for name, pid in stack.status(home).items() if pid}

    for sensor in instigators(web)["sensors"]:  # only the run launched here
        if sensor["sensorState"]["status"] == "RUNNING":
            readiness.graphql(web, "mutation($id: String) { stopSensor(id: $id) { __typename } }", {"id": sensor["id"]})
    last = last_complete_week() + timedelta(days=6)
    first = last - timedelta(days=2)
    simulate(Path(env["SHOPVERSE_DATA_DIR"]) / "landing", users=200, days=3, start=first, seed=11)
    run = launch_run(web, "daily_job", {"dagster/asset_partition_range_start": first.isoformat(),
                                        "dagster/asset_partition_range_end": last.isoformat()})
    assert wait_for_run(web, run, timeout=600) == "SUCCESS", f"daily_job run {run} failed: see {web}/runs/{run}"

    logs = readiness.graphql(web, """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
        __typename ... on MessageEvent { message stepKey } } } } }""", {"id": run})["logsForRun"]["events"]
    delegated = [e for e in logs if "in celery worker" in (e.get("message") or "")]
    steps = {e["stepKey"] for e in logs if e["__typename"] == "ExecutionStepSuccessEvent"}
    assert len(steps) > 10 and steps <= {e["stepKey"] for e in delegated}, (steps, delegated[:3])
    # both workers took steps (the metadata names the worker; the message names the steps)
    workers = readiness.graphql(web, """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
        ... on EngineEvent { message metadataEntries { label ... on TextMetadataEntry { text } } } } } } }""",
                                {"id": run})["logsForRun"]["events"]
    names = {entry["text"] for event in workers if "in celery worker" in (event.get("message") or "")
             for entry in event["metadataEntries"] if entry["label"] == "Celery worker"}
    assert names == {f"w1@{host}", f"w2@{host}"}, names


def test_compose_worker_healthcheck_passes_against_the_local_twin(celery_stack):
    """docker-compose.yml's health check of a celery-worker container (a ping of worker@<its
    hostname>), against each local worker (named w1@ and w2@ on one host)."""
    env, _, _ = celery_stack
    service = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]["celery-worker"]
    kind, command = service["healthcheck"]["test"]
    assert kind == "CMD-SHELL" and '"worker@$${HOSTNAME}"' in command
    check_env = {**env, "SHOPVERSE_CELERY_BROKER": f"redis://127.0.0.1:{env['SHOPVERSE_PROD_REDIS_PORT']}/0",
                 "HOSTNAME": socket.gethostname(), "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    for name in ("w1", "w2"):
        local = command.replace("$$", "$").replace('"worker@', f'"{name}@')
        result = subprocess.run(["sh", "-c", local], capture_output=True, text=True, timeout=120, env=check_env)
        assert result.returncode == 0 and "pong" in result.stdout, (local, result.stdout, result.stderr)
