"""The platform's services as local processes, started together and stopped by PID.

Two stacks share one supervisor:

* ``shopverse up`` / ``shopverse down``: the embedded defaults (``dagster dev`` on the instance in
  ``$DAGSTER_HOME``, an MLflow UI on the local MLflow store and, when configured, Marquez).
* ``scripts/stack/prod_local.sh start|stop|status``: the production configuration of
  ``docker-compose.yml`` as processes on 127.0.0.1 (``deploy/dagster.yaml`` on PostgreSQL, the code
  location as a gRPC server, webserver, daemon, MLflow on PostgreSQL, Marquez).

Processes are started and stopped by ``lib/supervisor`` (by PID, never a recycled one) and
probed by ``lib/readiness``; the commands are in ``lib/stack_cli``. PostgreSQL and Marquez are
managed by ``scripts/services/*.sh`` and are stopped only when this stack started them.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shopverse_platform.cli.instance import embedded_dagster_home, prepare_embedded_home
from shopverse_platform.cli.readiness import (
    HOST,
    daemons_healthy,
    dagster_ready,
    http_ok,
    port_free,
    port_open,
)
from shopverse_platform.cli.supervisor import (
    Service,
    StackError,
    Supervisor,
    alive,
    terminate,
    wait_gone,
)
from shopverse_platform.lib import paths
from shopverse_platform.lib.ingestion.collector.settings import DEFAULT_PORT as COLLECTOR_DEFAULT_PORT
from shopverse_platform.lib.warehouse.lake import parse_location

REPO = paths.PROJECT_ROOT
BIN = Path(sys.executable).parent
SERVICES = REPO / "scripts" / "services"
# Variables a parent shell may carry that would send the stack's runs somewhere else.
_FOREIGN_ENV = ("DAGSTER_HOME", "MLFLOW_TRACKING_URI", "OPENLINEAGE_URL", "DAGSTER_GRPC_PORT", "DAGSTER_GRPC_HOST")


# ----------------------------------------------------------------------------- external services

def _script(name: str, *args: str, env: Mapping[str, str], check: bool = True) -> int:
    result = subprocess.run(["bash", str(SERVICES / name), *args], env=dict(env), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise StackError(f"scripts/services/{name} {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.returncode


@dataclass
class Marquez:
    mode: str  # "local" (started by marquez.sh), "external" (MARQUEZ_URL) or "off"
    url: str | None
    reason: str = ""


def marquez_choice(env: Mapping[str, str], port: int, wanted: bool = True) -> Marquez:
    """Marquez when configured: $MARQUEZ_URL, else a local server when its jars are installed."""
    if not wanted:
        return Marquez("off", None, "disabled with --no-marquez")
    if env.get("MARQUEZ_URL"):
        return Marquez("external", env["MARQUEZ_URL"].rstrip("/"))
    lib = Path(env.get("MARQUEZ_LIB_DIR") or Path(env.get("SHOPVERSE_SERVICES_HOME") or REPO / ".services") / "marquez" / "lib")
    if (lib / ".resolved").is_file():
        return Marquez("local", f"http://{HOST}:{port}")
    return Marquez("off", None, f"no Marquez jars in {lib} (scripts/services/install.sh marquez) and MARQUEZ_URL unset")


# ----------------------------------------------------------------------------- stacks

@dataclass
class Stack:
    mode: str  # "up" or "prod"
    home: Path
    services: list[Service]
    script_env: dict[str, str]  # environment for scripts/services/*.sh
    databases: list[str] = field(default_factory=list)  # PostgreSQL databases to create (empty: no PostgreSQL)
    marquez: Marquez = field(default_factory=lambda: Marquez("off", None))
    prepare: Callable[[], None] = lambda: None
    extra_urls: dict[str, str] = field(default_factory=dict)  # configured services this stack does not run

    def urls(self) -> dict[str, str]:
        found = {s.label: s.url for s in self.services if s.url} | self.extra_urls
        if self.marquez.url:
            found["Marquez API"] = f"{self.marquez.url}/api/v1"
        return found


def _base_env(source: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in (os.environ if source is None else source).items() if k not in _FOREIGN_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name) or str(default)
    if not value.isdigit():
        raise StackError(f"{name} must be a port number, got {value!r}")
    return int(value)


MLFLOW_CLASSIC_VIEW = "workflowType=machine_learning"


def _mlflow(env: dict[str, str], port: int, store_env: dict[str, str], artifact_args: list[str],
            port_setting: str) -> Service:
    return Service(
        "mlflow", "MLflow UI",
        [str(BIN / "mlflow"), "server", "--host", HOST, "--port", str(port), "--workers", "1", *artifact_args],
        # The backend URI (it may hold a password) travels in the environment, not on the command line.
        {**env, **store_env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        ready=lambda: http_ok(f"http://{HOST}:{port}/health", "OK"),
        # MLflow 3's UI defaults to its GenAI view; the query opens the classic model-training one
        url=f"http://{HOST}:{port}/#/experiments?{MLFLOW_CLASSIC_VIEW}", port=port, port_setting=port_setting,
    )


def embedded_mlflow_store() -> tuple[str, Path]:
    """The local store the ML assets write to (the `mlflow_tracking` resource's defaults):
    $MLFLOW_TRACKING_URI when it names a local store, else data/mlflow/mlflow.db; artifacts in
    $SHOPVERSE_MLFLOW_ARTIFACTS, else data/mlflow/artifacts."""
    root = paths.data_dir() / "mlflow"
    configured = os.environ.get("MLFLOW_TRACKING_URI", "")
    backend = configured if configured.startswith(("sqlite:", "file:", "postgresql", "mysql")) else f"sqlite:///{root / 'mlflow.db'}"
    artifacts = os.environ.get("SHOPVERSE_MLFLOW_ARTIFACTS")
    return backend, Path(artifacts).resolve() if artifacts else root / "artifacts"


def up_stack(dagster_port: int | None = None, mlflow_port: int | None = None, marquez: bool = True) -> Stack:
    """`shopverse up`: dagster dev (UI + daemon) on the embedded instance, the MLflow UI, Marquez if configured."""
    env = _base_env()
    dagster_port = dagster_port or _port(os.environ, "SHOPVERSE_DAGSTER_PORT", 3000)
    mlflow_port = mlflow_port or _port(os.environ, "SHOPVERSE_MLFLOW_PORT", 5050)
    choice = marquez_choice(os.environ, _port(os.environ, "MARQUEZ_PORT", 5000), marquez)
    home = embedded_dagster_home()
    dagster_env = {**env, "DAGSTER_HOME": str(home)}
    for name in ("MLFLOW_TRACKING_URI", "OPENLINEAGE_URL"):  # keep what the user configured
        if os.environ.get(name):
            dagster_env[name] = os.environ[name]
    if choice.url and not os.environ.get("OPENLINEAGE_URL"):
        dagster_env["OPENLINEAGE_URL"] = choice.url
    base = f"http://{HOST}:{dagster_port}"
    dagster_env.setdefault("SHOPVERSE_UI_URL", base)  # run links in alerts
    dagster = Service(
        "dagster", "Dagster UI",
        [str(BIN / "dagster"), "dev", "-w", str(REPO / "workspace.yaml"), "-h", HOST, "-p", str(dagster_port)],
        dagster_env, ready=lambda: dagster_ready(base) and daemons_healthy(base), url=base,
        port=dagster_port, port_setting="--dagster-port or $SHOPVERSE_DAGSTER_PORT",
    )
    reports_port = _port(os.environ, "SHOPVERSE_REPORTS_PORT", paths.REPORTS_PORT_DEFAULT)
    reports_root = paths.reports_dir()
    reports_url = f"http://{HOST}:{reports_port}"
    # The reports folder as it is on disk (pages, their shared plotly.js, index.html), served by the
    # standard library's static file server: nothing to configure, nothing beyond GET of files.
    reports = Service(
        "reports", "Reports",
        [sys.executable, "-m", "http.server", str(reports_port), "--bind", HOST, "--directory", str(reports_root)],
        env, ready=lambda: http_ok(f"{reports_url}/index.html", "ShopVerse reports"), url=f"{reports_url}/",
        port=reports_port, port_setting="$SHOPVERSE_REPORTS_PORT",
    )
    dagster_env.setdefault("SHOPVERSE_REPORTS_URL", reports_url)  # links on the report assets' pages
    collector_port = _port(os.environ, "SHOPVERSE_COLLECTOR_PORT", COLLECTOR_DEFAULT_PORT)
    collector_url = f"http://{HOST}:{collector_port}"
    # The HTTP event collector, into the same landing zone the sensor watches (its settings from
    # the SHOPVERSE_COLLECTOR_* variables of the environment, its address forced to the stack's)
    collector = Service(
        "collector", "Collector",
        [sys.executable, "-m", "shopverse_platform.cli.main", "collect", "--host", HOST, "--port", str(collector_port)],
        env, ready=lambda: http_ok(f"{collector_url}/health", '"status":"ok"'), url=f"{collector_url}/v1/events",
        port=collector_port, port_setting="$SHOPVERSE_COLLECTOR_PORT",
    )
    services = [dagster, reports, collector]
    lake = parse_location(os.environ.get("SHOPVERSE_WAREHOUSE", ""))
    if lake is not None and lake.catalog_file() is not None:
        # A SQLite lake's catalog held open by a process of its own, so that no run's connection is
        # its last (lib/warehouse/catalog_keeper.py: readers otherwise stall a second now and then)
        services.append(Service(
            "lake-catalog", "Lake catalog kept open",
            [sys.executable, "-m", "shopverse_platform.cli.main", "warehouse", "keep-catalog-open"],
            env, ready=lambda: True,
        ))
    remote = os.environ.get("MLFLOW_TRACKING_URI", "")
    backend, artifacts = embedded_mlflow_store()
    if not remote.startswith(("http://", "https://")):
        # The UI serves the same store the assets write to, so `shopverse run` and runs launched
        # from the Dagster UI show up alike. Artifacts stay plain files (no proxy): experiments
        # created by the assets hold file:// locations that the local store must keep using.
        services.insert(0, _mlflow(env, mlflow_port, {"MLFLOW_BACKEND_STORE_URI": backend},
                                   ["--default-artifact-root", artifacts.as_uri(), "--no-serve-artifacts"],
                                   "--mlflow-port or $SHOPVERSE_MLFLOW_PORT"))

    def prepare() -> None:
        prepare_embedded_home(home)
        from shopverse_platform.lib.reports.render import write_index

        reports_root.mkdir(parents=True, exist_ok=True)
        write_index(reports_root)  # served before the first report is written
        artifacts.mkdir(parents=True, exist_ok=True)
        if backend.startswith("sqlite:///"):
            Path(backend.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    stack = Stack("up", paths.data_dir() / "stack", services, dict(os.environ), marquez=choice, prepare=prepare)
    # not a service of its own: the collector serves it, wired with its /tracker.js
    stack.extra_urls["Demo shop"] = f"{collector_url}/shop/"
    if remote.startswith(("http://", "https://")):
        stack.extra_urls["MLflow UI"] = f"{remote.rstrip('/')}  (MLFLOW_TRACKING_URI)"
    return stack


def prod_home(src: Mapping[str, str]) -> Path:
    """Where the production stack keeps its state, logs and PID files: all that stop and status need."""
    return Path(src.get("SHOPVERSE_PROD_HOME") or REPO / ".services" / "prod-local").resolve()


def prod_stack(environ: Mapping[str, str] | None = None) -> Stack:
    """The production configuration (docker-compose.yml) as processes on 127.0.0.1."""
    src = dict(os.environ if environ is None else environ)
    home = prod_home(src)
    grpc_port = _port(src, "SHOPVERSE_PROD_GRPC_PORT", 4266)
    web_port = _port(src, "SHOPVERSE_PROD_WEBSERVER_PORT", 3300)
    mlflow_port = _port(src, "SHOPVERSE_PROD_MLFLOW_PORT", 5055)
    mq_port, mq_admin = _port(src, "SHOPVERSE_PROD_MARQUEZ_PORT", 5100), _port(src, "SHOPVERSE_PROD_MARQUEZ_ADMIN_PORT", 5101)
    pg_port = _port(src, "SHOPVERSE_PG_PORT", 55432)
    pg_user, pg_password = src.get("SHOPVERSE_PG_USER", "shopverse"), src.get("SHOPVERSE_PG_PASSWORD", "shopverse")
    dagster_db, mlflow_db = src.get("DAGSTER_PG_DB", "dagster"), src.get("MLFLOW_PG_DB", "mlflow")
    lake_db = src.get("SHOPVERSE_LAKE_PG_DB", "shopverse_lake")
    choice = marquez_choice(src, mq_port)
    script_env = {**src, "MARQUEZ_PORT": str(mq_port), "MARQUEZ_ADMIN_PORT": str(mq_admin)}
    dagster_home = home / "dagster_home"
    base = _base_env(src)
    common = {
        **base, "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_HOST": HOST, "DAGSTER_PG_PORT": str(pg_port), "DAGSTER_PG_USER": pg_user,
        "DAGSTER_PG_PASSWORD": pg_password, "DAGSTER_PG_DB": dagster_db,
        "DAGSTER_MAX_CONCURRENT_RUNS": src.get("DAGSTER_MAX_CONCURRENT_RUNS", "4"),  # a DuckLake warehouse
        # PostgreSQL storage writes a batch of asset events (a range run's partitions) in one insert.
        "DAGSTER_EVENT_BATCH_SIZE": src.get("DAGSTER_EVENT_BATCH_SIZE", "1000"),
        "DAGSTER_GRPC_HOST": HOST, "DAGSTER_GRPC_PORT": str(grpc_port),
        "MLFLOW_TRACKING_URI": f"http://{HOST}:{mlflow_port}",
        "SHOPVERSE_UI_URL": src.get("SHOPVERSE_UI_URL") or f"http://{HOST}:{web_port}",  # run links in alerts
        **lake_warehouse_env(src, lake_db, pg_port, pg_user, pg_password),
    }
    if choice.url:
        common["OPENLINEAGE_URL"] = choice.url
    web = f"http://{HOST}:{web_port}"
    workspace = str(REPO / "deploy" / "workspace.yaml")
    grpc = Service(
        "grpc", "code location (gRPC)",
        [str(BIN / "dagster"), "api", "grpc", "-m", "shopverse_platform.definitions", "-h", HOST, "-p", str(grpc_port)],
        common, ready=lambda: port_open(grpc_port), port=grpc_port, port_setting="$SHOPVERSE_PROD_GRPC_PORT",
    )
    webserver = Service(
        "webserver", "Dagster UI", [str(BIN / "dagster-webserver"), "-h", HOST, "-p", str(web_port), "-w", workspace],
        common, ready=lambda: dagster_ready(web), url=web, after=("grpc",),
        port=web_port, port_setting="$SHOPVERSE_PROD_WEBSERVER_PORT",
    )
    daemon = Service("daemon", "Dagster daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], common,
                     ready=lambda: daemons_healthy(web), after=("grpc",))
    store = {"MLFLOW_BACKEND_STORE_URI": f"postgresql+psycopg2://{pg_user}:{pg_password}@{HOST}:{pg_port}/{mlflow_db}"}
    # As in docker-compose.yml: artifacts proxied through the server (mlflow-artifacts:/), so that
    # clients need no access to the artifact store.
    mlflow = _mlflow(base, mlflow_port, store, ["--artifacts-destination", str(home / "mlflow-artifacts")],
                     "$SHOPVERSE_PROD_MLFLOW_PORT")

    step_workers = celery_step_workers(src, home, common)  # sets the broker in common when asked for

    def prepare() -> None:
        dagster_home.mkdir(parents=True, exist_ok=True)
        (home / "mlflow-artifacts").mkdir(parents=True, exist_ok=True)
        if step_workers:
            (home / "redis").mkdir(parents=True, exist_ok=True)  # the broker's append-only file
        shutil.copyfile(REPO / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")

    return Stack("prod", home, [*step_workers[:1], grpc, mlflow, webserver, daemon, *step_workers[1:]], script_env,
                 databases=[dagster_db, mlflow_db, lake_db], marquez=choice, prepare=prepare)


def celery_step_workers(src: Mapping[str, str], home: Path, common: dict[str, str]) -> list[Service]:
    """docker-compose.yml's ``celery`` profile as processes: with $SHOPVERSE_PROD_CELERY_WORKERS=N
    (N > 0), a Redis broker (Debian's redis-server, its queue kept in an append-only file under the
    stack's home, so a restart loses no queued step) and N `shopverse celery-worker` processes, and
    $SHOPVERSE_CELERY_BROKER set for the code location, the daemon and the webserver: every run's
    steps go to the workers. The broker comes first (the code location's runs need it), the workers
    last (they load the code location's definitions, as its server does). None by default."""
    value = src.get("SHOPVERSE_PROD_CELERY_WORKERS") or "0"
    if not value.isdigit():
        raise StackError(f"SHOPVERSE_PROD_CELERY_WORKERS must be a number of workers, got {value!r}")
    if int(value) == 0:
        return []
    redis = shutil.which("redis-server")
    if redis is None:
        raise StackError("SHOPVERSE_PROD_CELERY_WORKERS needs redis-server, the broker: bash scripts/services/install.sh redis")
    port = _port(src, "SHOPVERSE_PROD_REDIS_PORT", 6390)
    broker = f"redis://{HOST}:{port}/0"
    common["SHOPVERSE_CELERY_BROKER"] = broker
    services = [Service(
        "redis", "Celery broker",
        [redis, "--port", str(port), "--bind", HOST, "--dir", str(home / "redis"), "--appendonly", "yes", "--save", ""],
        _base_env(src), ready=lambda: port_open(port), url=broker, port=port, port_setting="$SHOPVERSE_PROD_REDIS_PORT",
    )]
    host = socket.gethostname()
    for number in range(1, int(value) + 1):
        name = f"w{number}@{host}"
        services.append(Service(
            f"celery-worker-{number}", f"Celery worker {name}",
            [sys.executable, "-m", "shopverse_platform.cli.main", "celery-worker", "--name", name],
            common, ready=lambda name=name: celery_worker_answers(broker, name), after=("redis", "grpc"),
        ))
    return services


def celery_worker_answers(broker: str, name: str) -> bool:
    """Whether the Celery worker ``name`` answers a ping on ``broker`` (within a second); not while
    the broker cannot be reached."""
    from shopverse_platform.defs.automation.run_workers import CeleryWorkersMissing, listening_workers

    try:
        return bool(listening_workers({"broker": broker}, timeout=1.0, names=(name,)))
    except CeleryWorkersMissing:  # the broker cannot be reached (yet)
        return False


def lake_warehouse_env(src: Mapping[str, str], lake_db: str, pg_port: int, pg_user: str, pg_password: str) -> dict[str, str]:
    """The production warehouse, as in docker-compose.yml: a DuckLake catalogued in PostgreSQL (its
    own database) with its Parquet data under the data directory, so that runs, their steps and
    readers (`shopverse sql`, notebooks) work on it at once. A warehouse set by the caller is kept.
    The password travels as PGPASSWORD (libpq's), not inside the connection string."""
    if src.get("SHOPVERSE_WAREHOUSE"):
        return {}
    data = Path(src.get("SHOPVERSE_DATA_DIR") or REPO / "data").resolve()
    return {
        "SHOPVERSE_WAREHOUSE": f"ducklake:postgres:dbname={lake_db} host={HOST} port={pg_port} user={pg_user}",
        "SHOPVERSE_WAREHOUSE_DATA_PATH": src.get("SHOPVERSE_WAREHOUSE_DATA_PATH") or str(data / "warehouse" / "lake"),
        "SHOPVERSE_WAREHOUSE_NAME": src.get("SHOPVERSE_WAREHOUSE_NAME", "shopverse"),  # the same lineage nodes as the file's
        "PGPASSWORD": pg_password,
    }


# ----------------------------------------------------------------------------- start / stop

def _state_path(home: Path) -> Path:
    return home / "stack.json"


def read_state(home: Path) -> dict | None:
    try:
        return json.loads(_state_path(home).read_text())
    except (OSError, ValueError):
        return None


# What `stop` needs to find the services the scripts started (ports, data directories, versions),
# from the environment `start` ran with. Nothing else of that environment is written to disk: it
# holds API keys and passwords (SHOPVERSE_PG_PASSWORD, OPENLINEAGE_API_KEY, MLFLOW_TRACKING_URI
# with credentials …), and stopping PostgreSQL or Marquez needs none of them.
_SCRIPT_SETTING_PREFIXES = ("SHOPVERSE_SERVICES_HOME", "SHOPVERSE_PG_", "SHOPVERSE_M2_", "PG_", "MARQUEZ_")
_SECRET_MARKERS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIAL")


def script_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``env`` that locate the scripts' services, without any secret."""
    return {
        name: value for name, value in env.items()
        if name.startswith(_SCRIPT_SETTING_PREFIXES) and not any(marker in name for marker in _SECRET_MARKERS)
    }


def write_state(home: Path, state: dict) -> None:
    """Write the stack's state atomically, readable by its owner only (mode 0600)."""
    home.mkdir(parents=True, exist_ok=True)
    tmp = _state_path(home).with_suffix(".tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(state, indent=2))
    os.chmod(tmp, 0o600)  # an older file of another mode is truncated, not recreated
    tmp.replace(_state_path(home))


def start(stack: Stack, log: Callable[[str], None] = print) -> dict:
    """Start every service and wait until each is ready; on any failure stop what was started."""
    supervisor = Supervisor(stack.home)
    running = [s.name for s in stack.services if supervisor.record(s.name)]
    if running:
        raise StackError(f"already running: {', '.join(running)} (state in {stack.home}); stop it first")
    # Before anything starts: a server that cannot listen logged it and went on (dagster dev kept
    # its daemon running and its UI nowhere), or left another program answering in its place.
    taken = [f"port {s.port} for the {s.label} is in use by another program ({s.port_setting} chooses another)"
             for s in stack.services if s.port is not None and not port_free(s.port)]
    if taken:
        raise StackError("; ".join(taken))
    state = {"mode": stack.mode, "supervisor": None, "services": [], "started_postgres": False,
             "started_marquez": False, "script_settings": script_settings(stack.script_env),
             "urls": stack.urls()}
    write_state(stack.home, state)
    t0 = time.monotonic()
    marquez: concurrent.futures.Future | None = None
    try:
        stack.prepare()
        if stack.databases or stack.marquez.mode == "local":
            if _script("postgres.sh", "status", env=stack.script_env, check=False) != 0:
                log("starting PostgreSQL (scripts/services/postgres.sh)")
                _script("postgres.sh", "start", env=stack.script_env)
                state["started_postgres"] = True
                write_state(stack.home, state)
            for name in stack.databases:
                _script("postgres.sh", "createdb", name, env=stack.script_env)
        if stack.marquez.mode == "local" and _script("marquez.sh", "status", env=stack.script_env, check=False) != 0:
            log("starting Marquez (scripts/services/marquez.sh)")
            state["started_marquez"] = True
            write_state(stack.home, state)
            # The JVM takes half a minute: start it alongside the Python services.
            pool = concurrent.futures.ThreadPoolExecutor(1)
            marquez = pool.submit(_script, "marquez.sh", "start", env=stack.script_env)
            pool.shutdown(wait=False)  # the script keeps running; start() waits for it below

        def started(service: Service, pid: int) -> None:
            state["services"].append(service.name)
            write_state(stack.home, state)
            log(f"started {service.label} (pid {pid}, log {supervisor.log_path(service.name)})")

        supervisor.start_all(stack.services, started)
        if marquez is not None:
            marquez.result()
    except BaseException:
        if marquez is not None:
            concurrent.futures.wait([marquez])  # never stop Marquez while its start script still runs
        log("startup failed; stopping what was started")
        stop(stack.home, log=log)
        raise
    state["startup_seconds"] = round(time.monotonic() - t0, 1)
    write_state(stack.home, state)
    return state


def stop(home: Path, log: Callable[[str], None] = print, supervisor_timeout: float = 90.0) -> None:
    """Stop everything recorded in ``home``: the foreground supervisor first, then each service."""
    state = read_state(home)
    if state is None:
        log(f"nothing to stop in {home}")
        return
    owner = state.get("supervisor")
    if owner and owner[0] != os.getpid() and alive(*owner):
        log(f"asking the running 'shopverse up' (pid {owner[0]}) to stop")
        os.kill(owner[0], signal.SIGTERM)
        if wait_gone({owner[0]: owner[1]}, supervisor_timeout):
            terminate(*owner)
    supervisor = Supervisor(home)
    names = list(reversed(state.get("services", [])))
    running = [name for name in names if supervisor.record(name)]
    if running:
        log(f"stopping {', '.join(running)}")
    # All at once: each takes a few seconds to shut down, and none needs another to do so.
    with concurrent.futures.ThreadPoolExecutor(max(1, len(names))) as pool:
        list(pool.map(supervisor.stop, names))
    # The current environment (it has the secrets again, if any were needed) with the locations
    # the services were started with.
    env = {**os.environ, **(state.get("script_settings") or {})}
    if state.get("started_marquez"):
        log("stopping Marquez")
        _script("marquez.sh", "stop", env=env, check=False)
    if state.get("started_postgres"):
        log("stopping PostgreSQL")
        _script("postgres.sh", "stop", env=env, check=False)
    _state_path(home).unlink(missing_ok=True)


def status(home: Path) -> dict[str, int | None]:
    state = read_state(home) or {}
    supervisor = Supervisor(home)
    return {name: (supervisor.record(name) or (None,))[0] for name in state.get("services", [])}
