"""The production configuration run for real (scripts/stack/prod_local.sh): the daily and weekly
jobs launched through the webserver's GraphQL API, then checked where they landed: Dagster's
storage in PostgreSQL, MLflow through its REST API, lineage through Marquez's API."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import yaml

from shopverse_platform.cli import readiness, stack, supervisor
from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform_tests.deployment.conftest import ProdRuns, ProdStack

pytestmark = pytest.mark.services

ASSETS = """{ assetNodes { assetKey { path } jobNames groupName kinds isPartitioned
  dependencyKeys { path } } }"""


@pytest.fixture(scope="module")
def assets(prod_stack: ProdStack) -> dict[str, dict]:
    return {"/".join(n["assetKey"]["path"]): n for n in readiness.graphql(prod_stack.web, ASSETS)["assetNodes"]}


def materialized(prod_stack: ProdStack, run_id: str) -> dict[str, set[str | None]]:
    """Asset -> partitions materialized by a run, read from Dagster's event log in PostgreSQL."""
    with prod_stack.psql_connect("dagster") as con, con.cursor() as cur:
        cur.execute("SELECT asset_key, partition FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
                    (run_id,))
        found: dict[str, set[str | None]] = {}
        for key, partition in cur.fetchall():
            found.setdefault("/".join(json.loads(key)), set()).add(partition)
    return found


def test_instance_storage_is_postgres(prod_stack: ProdStack):
    home = Path(prod_stack.env["SHOPVERSE_PROD_HOME"]) / "dagster_home"
    assert (home / "dagster.yaml").read_text() == (PROJECT_ROOT / "deploy" / "dagster.yaml").read_text()
    with prod_stack.psql_connect("dagster") as con, con.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        tables = {row[0] for row in cur.fetchall()}
        # The daemon's heartbeats reach PostgreSQL: the instance the webserver reads is the one it writes.
        cur.execute("SELECT count(*) FROM daemon_heartbeats")
        heartbeats = cur.fetchone()[0]
    assert {"runs", "event_logs", "jobs", "job_ticks", "daemon_heartbeats", "asset_keys"} <= tables
    assert heartbeats >= 5
    with prod_stack.psql_connect("mlflow") as con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name IN ('experiments', 'runs', 'registered_models')")
        assert cur.fetchone()[0] == 3, "MLflow's backend store is not in PostgreSQL"


def test_daily_job_through_graphql_lands_in_postgres(prod_stack: ProdStack, prod_runs: ProdRuns, assets):
    with prod_stack.psql_connect("dagster") as con, con.cursor() as cur:
        cur.execute("SELECT pipeline_name, status FROM runs WHERE run_id = %s", (prod_runs.daily,))
        assert cur.fetchone() == ("daily_job", "SUCCESS")
        cur.execute("SELECT dagster_event_type FROM event_logs WHERE run_id = %s AND dagster_event_type IS NOT NULL ORDER BY id",
                    (prod_runs.daily,))
        events = [row[0] for row in cur.fetchall()]
    # The run went through the queue (QueuedRunCoordinator + daemon) and ended well.
    order = [e for e in events if e in ("PIPELINE_ENQUEUED", "PIPELINE_STARTING", "PIPELINE_START", "PIPELINE_SUCCESS")]
    assert order == ["PIPELINE_ENQUEUED", "PIPELINE_STARTING", "PIPELINE_START", "PIPELINE_SUCCESS"]
    assert "STEP_FAILURE" not in events
    # Every asset of the daily job was materialized; the partitioned ones for each simulated day.
    expected = {key for key, node in assets.items() if "daily_job" in node["jobNames"]}
    done = materialized(prod_stack, prod_runs.daily)
    assert set(done) == expected
    days = {(prod_runs.first_day + timedelta(days=i)).isoformat() for i in range((prod_runs.last_day - prod_runs.first_day).days + 1)}
    for key in expected:
        assert done[key] == (days if assets[key]["isPartitioned"] else {None}), key


def test_weekly_models_are_tracked_in_mlflow(prod_stack: ProdStack, prod_runs: ProdRuns, assets):
    api = f"{prod_stack.mlflow}/api/2.0/mlflow"
    done = materialized(prod_stack, prod_runs.weekly)
    assert done, "the weekly run materialized nothing"
    experiments = requests.post(f"{api}/experiments/search", json={"max_results": 100}, timeout=30).json()["experiments"]
    tracked = {}
    for experiment in experiments:
        runs = requests.post(f"{api}/runs/search", timeout=30, json={
            "experiment_ids": [experiment["experiment_id"]], "max_results": 200,
            "filter": f"tags.`dagster.run_id` = '{prod_runs.weekly}'"}).json().get("runs", [])
        if runs:
            tracked[experiment["name"]] = runs
    assert tracked, "no MLflow run carries the weekly Dagster run's id"
    for name, runs in tracked.items():
        tags = [{t["key"]: t["value"] for t in run["data"].get("tags", [])} for run in runs]
        assert all(run["info"]["status"] == "FINISHED" for run in runs), name
        # Each model asset of the run: its MLflow runs name it, and Dagster materialized it.
        asset_keys = {t["dagster.asset_key"] for t in tags}
        assert asset_keys <= set(done), (name, asset_keys)
        assert all(assets[key]["kinds"] and "mlflow" in assets[key]["kinds"] for key in asset_keys), asset_keys
        candidates = {t["shopverse.candidate"] for t in tags if "shopverse.candidate" in t}
        assert len(candidates) >= 2, f"{name}: a training compares candidates, found {candidates}"
    # The registry: a model trained by this run holds the champion alias.
    models = requests.get(f"{api}/registered-models/search", params={"max_results": 100}, timeout=30).json()["registered_models"]
    champions = {m["name"]: a["version"] for m in models for a in m.get("aliases", []) if a["alias"] == "champion"}
    assert champions, f"no registered model has a champion: {[(m['name'], m.get('aliases')) for m in models]}"
    weekly_run_ids = {run["info"]["run_id"] for runs in tracked.values() for run in runs}
    for name, version in champions.items():
        detail = requests.get(f"{api}/model-versions/get", params={"name": name, "version": version}, timeout=30).json()
        assert detail["model_version"]["run_id"] in weekly_run_ids, f"{name} v{version} was not trained by the weekly run"
        assert name in done, f"registered model {name} has no asset of the same name"


def test_lineage_reaches_marquez(prod_stack: ProdStack, prod_runs: ProdRuns, assets):
    if not prod_stack.marquez:
        pytest.skip(f"Marquez unavailable: {prod_stack.marquez_reason}")
    api = f"{prod_stack.marquez}/api/v1"
    namespaces = {n["name"] for n in requests.get(f"{api}/namespaces", timeout=30).json()["namespaces"]}
    assert "shopverse" in namespaces
    jobs = {j["name"]: j for j in requests.get(f"{api}/namespaces/shopverse/jobs", params={"limit": 500}, timeout=30).json()["jobs"]}
    built = set(materialized(prod_stack, prod_runs.daily)) | set(materialized(prod_stack, prod_runs.weekly))
    missing = built - set(jobs)
    assert not missing, f"assets materialized without a Marquez job: {missing}"
    for key in built:
        assert (jobs[key].get("latestRun") or {}).get("state") == "COMPLETED", (key, jobs[key].get("latestRun"))

    def datasets(job: dict, side: str) -> set[tuple[str, str]]:
        return {(d["namespace"], d["name"]) for d in job[side]}

    # Every edge of the asset graph between built assets is an edge in Marquez: something the
    # upstream job wrote is something the downstream job read (whatever the datasets are called).
    edges = [(dep, key) for key in built for dep in ("/".join(d["path"]) for d in assets[key]["dependencyKeys"]) if dep in built]
    assert len(edges) >= len(built) - 2
    broken = [(up, down) for up, down in edges if not datasets(jobs[up], "outputs") & datasets(jobs[down], "inputs")]
    assert not broken, f"asset-graph edges missing in Marquez: {broken}"


def test_compose_healthchecks_pass_against_the_local_twin(prod_stack: ProdStack):
    """The health checks of docker-compose.yml, run here against the same services on their local
    ports: the commands work, and they pass."""
    services = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]
    env = prod_stack.env
    # Container address -> the local twin's address, per service.
    local = {
        "dagster-webserver": ("127.0.0.1:3000", f"127.0.0.1:{env['SHOPVERSE_PROD_WEBSERVER_PORT']}"),
        "mlflow": ("127.0.0.1:5000", f"127.0.0.1:{env['SHOPVERSE_PROD_MLFLOW_PORT']}"),
        "code-location": ("4000", env["SHOPVERSE_PROD_GRPC_PORT"]),
        "marquez": ("127.0.0.1/5001", f"127.0.0.1/{env['SHOPVERSE_PROD_MARQUEZ_ADMIN_PORT']}"),
        "dagster-daemon": ("", ""),
    }
    executables = {"python": sys.executable, "dagster": str(stack.BIN / "dagster"), "dagster-daemon": str(stack.BIN / "dagster-daemon")}
    daemon_env = next(s.env for s in stack.prod_stack(env).services if s.name == "daemon")  # DAGSTER_HOME, PostgreSQL
    checks = {}
    for name, (old, new) in local.items():
        if name == "marquez" and not prod_stack.marquez:
            continue
        kind, *argv = services[name]["healthcheck"]["test"]
        assert kind == "CMD", name
        argv = [executables.get(argv[0], argv[0])] + [arg.replace(old, new) if old else arg for arg in argv[1:]]
        checks[name] = (argv, subprocess.Popen(argv, env=daemon_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for name, (argv, proc) in checks.items():  # all at once: each one is mostly Python start-up
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{name} healthcheck {argv}: {output}"
    print(f"compose healthchecks passed locally: {sorted(checks)}")


def test_postgres_init_script_gives_each_service_its_own_database(prod_stack: ProdStack):
    """deploy/postgres/init-databases.sh (the compose PostgreSQL's first-start script), run against
    the local server: a role and a database per service, reachable only by their owner."""
    import psycopg2

    suffix = secrets.token_hex(3)
    names = {svc: (f"t_{svc}_{suffix}", f"t_{svc}_{suffix}", secrets.token_urlsafe(12)) for svc in ("dagster", "mlflow", "marquez", "lake")}
    env = {**prod_stack.env, "POSTGRES_USER": prod_stack.pg["user"], "PGHOST": "127.0.0.1", "PGPORT": str(prod_stack.pg["port"]),
           "PGPASSWORD": prod_stack.pg["password"],
           "DAGSTER_PG_DB": names["dagster"][0], "DAGSTER_PG_USER": names["dagster"][1], "DAGSTER_PG_PASSWORD": names["dagster"][2],
           "MLFLOW_PG_DB": names["mlflow"][0], "MLFLOW_PG_USER": names["mlflow"][1], "MLFLOW_PG_PASSWORD": names["mlflow"][2],
           "MARQUEZ_DB": names["marquez"][0], "MARQUEZ_DB_USER": names["marquez"][1], "MARQUEZ_DB_PASSWORD": names["marquez"][2],
           "SHOPVERSE_LAKE_PG_DB": names["lake"][0], "SHOPVERSE_LAKE_PG_USER": names["lake"][1],
           "SHOPVERSE_LAKE_PG_PASSWORD": names["lake"][2]}
    pg_bin = subprocess.run(["bash", "-c", "source scripts/services/_common.sh && find_pg_bin"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True).stdout.strip()
    env["PATH"] = f"{pg_bin}:{env['PATH']}"
    try:
        for _ in range(2):  # idempotent: a second run changes nothing
            result = subprocess.run(["bash", "deploy/postgres/init-databases.sh"], cwd=PROJECT_ROOT, env=env,
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stdout + result.stderr
        for svc, (db, user, password) in names.items():
            psycopg2.connect(host="127.0.0.1", port=prod_stack.pg["port"], user=user, password=password, dbname=db).close()
            other = names["dagster" if svc != "dagster" else "mlflow"][0]
            with pytest.raises(psycopg2.OperationalError, match="permission denied"):
                psycopg2.connect(host="127.0.0.1", port=prod_stack.pg["port"], user=user, password=password, dbname=other)
    finally:
        con = prod_stack.psql_connect("postgres")
        con.autocommit = True  # DROP DATABASE runs outside a transaction
        try:
            with con.cursor() as cur:
                for db, user, _ in names.values():
                    cur.execute(f'DROP DATABASE IF EXISTS "{db}"')
                    cur.execute(f'DROP ROLE IF EXISTS "{user}"')
        finally:
            con.close()


def run_timings(prod_stack: ProdStack, run_id: str) -> dict[str, float]:
    """Where a run's time went, from its event log: queue, worker start, steps."""
    with prod_stack.psql_connect("dagster") as con, con.cursor() as cur:
        cur.execute("SELECT timestamp, dagster_event_type, step_key FROM event_logs WHERE run_id = %s AND dagster_event_type IN "
                    "('PIPELINE_ENQUEUED', 'PIPELINE_STARTING', 'PIPELINE_START', 'STEP_START', 'STEP_SUCCESS', 'PIPELINE_SUCCESS') "
                    "ORDER BY id", (run_id,))
        rows = cur.fetchall()
    at = {kind: ts for ts, kind, _ in rows if kind.startswith("PIPELINE")}
    starts = {step: ts for ts, kind, step in rows if kind == "STEP_START"}
    steps = sorted((ts - starts[step]).total_seconds() for ts, kind, step in rows if kind == "STEP_SUCCESS")
    return {"queued_s": round((at["PIPELINE_STARTING"] - at["PIPELINE_ENQUEUED"]).total_seconds(), 1),
            "worker_start_s": round((at["PIPELINE_START"] - at["PIPELINE_STARTING"]).total_seconds(), 1),
            "steps": len(steps), "median_step_s": round(steps[len(steps) // 2], 1), "sum_steps_s": round(sum(steps), 1),
            "total_s": round((at["PIPELINE_SUCCESS"] - at["PIPELINE_ENQUEUED"]).total_seconds(), 1)}


def test_startup_and_memory(prod_stack: ProdStack, prod_runs: ProdRuns):
    """Not a threshold test: records what the production configuration costs on this machine."""
    home = Path(prod_stack.env["SHOPVERSE_PROD_HOME"])
    rss = {name: round(supervisor.rss_mib(pid)) for name, pid in stack.status(home).items() if pid}
    assert set(rss) == {"grpc", "webserver", "daemon", "mlflow"}
    timings = {job: run_timings(prod_stack, run_id) for job, run_id in (("daily_job", prod_runs.daily), ("weekly_job", prod_runs.weekly))}
    for timing in timings.values():
        assert timing["sum_steps_s"] <= timing["total_s"]
    print(f"\nprod_local: started in {prod_stack.startup_seconds}s; RSS MiB {rss}")
    for job, timing in timings.items():
        print(f"  {job}: {timing}")


def test_the_warehouse_is_a_ducklake_catalogued_in_postgres(prod_stack: ProdStack, prod_runs: ProdRuns, monkeypatch):
    """The production warehouse is a DuckLake: its catalog in the stack's PostgreSQL (database
    shopverse_lake), its data as Parquet under the data directory; a reader opens it beside the stack."""
    with prod_stack.psql_connect("shopverse_lake") as con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM ducklake_table WHERE end_snapshot IS NULL")
        tables = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM ducklake_snapshot")
        snapshots = cur.fetchone()[0]
    assert tables >= 20 and snapshots > tables, (tables, snapshots)
    data = Path(prod_stack.env["SHOPVERSE_DATA_DIR"]) / "warehouse" / "lake"
    assert any(data.rglob("*.parquet")), f"no Parquet file under {data}"
    from shopverse_platform.defs.resources import Warehouse

    monkeypatch.setenv("PGPASSWORD", str(prod_stack.pg["password"]))
    lake = Warehouse(path=f"ducklake:postgres:dbname=shopverse_lake host=127.0.0.1 port={prod_stack.pg['port']} "
                          f"user={prod_stack.pg['user']}")
    with lake.connect(read_only=True) as con:
        days = con.execute("SELECT count(DISTINCT sales_date) FROM daily_sales WHERE sales_date BETWEEN ? AND ?",
                           [prod_runs.first_day, prod_runs.last_day]).fetchall()[0][0]
    assert days == (prod_runs.last_day - prod_runs.first_day).days + 1
