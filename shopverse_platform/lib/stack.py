"""The platform's services as local processes, started together and stopped by PID.

Two stacks share one supervisor:

* ``shopverse up`` / ``shopverse down``: the embedded defaults (``dagster dev`` on the instance in
  ``$DAGSTER_HOME``, an MLflow UI on the local MLflow store and, when configured, Marquez).
* ``scripts/stack/prod_local.sh start|stop|status``: the production configuration of
  ``docker-compose.yml`` as processes on 127.0.0.1 (``deploy/dagster.yaml`` on PostgreSQL, the code
  location as a gRPC server, webserver, daemon, MLflow on PostgreSQL, Marquez).

Every process runs in its own session (``start_new_session``) with a PID file holding its PID and
start time, so a recycled PID is never signalled. Stopping sends SIGTERM to the process, then to
its whole session, then SIGKILL to whatever is left of the session and of its process tree.
PostgreSQL and Marquez are managed by ``scripts/services/*.sh`` and are stopped only when this
stack started them.
"""

from __future__ import annotations

import argparse
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

from shopverse_platform.lib import paths

REPO = paths.PROJECT_ROOT
BIN = Path(sys.executable).parent
SERVICES = REPO / "scripts" / "services"
HOST = "127.0.0.1"
# Variables a parent shell may carry that would send the stack's runs somewhere else.
_FOREIGN_ENV = ("DAGSTER_HOME", "MLFLOW_TRACKING_URI", "OPENLINEAGE_URL", "DAGSTER_GRPC_PORT", "DAGSTER_GRPC_HOST")


class StackError(RuntimeError):
    """A service did not start, or the stack is in a state the command cannot act on."""


@dataclass
class Service:
    name: str
    label: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[], bool]  # True when serving; may raise StackError for a fatal problem
    url: str | None = None
    after: tuple[str, ...] = ()  # services that must be ready before this one starts
    timeout: float = 240.0


# ----------------------------------------------------------------------------- processes (/proc)

def _stat(pid: int) -> tuple[str, int, int, str] | None:
    """(state, ppid, session id, start time) of a live process, from /proc (no psutil at run time)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[3]), fields[19]


def alive(pid: int, start: str | None = None) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X") and (start is None or stat[3] == start)


def _all_processes() -> dict[int, tuple[str, int, int, str]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))):
            found[int(entry.name)] = stat
    return found


def family(pid: int, start: str | None = None) -> dict[int, str]:
    """The process, its descendants and every member of its session: {pid: start time}.

    Members of the session outlive a leader that was killed. Linux does not hand out a PID while a
    session still uses it as its id, so if ``pid`` now runs with another start time than ``start``
    (the leader's), the number was reused and nothing under it is ours."""
    procs = _all_processes()
    if start is not None and pid in procs and procs[pid][3] != start:
        return {}
    members = {p: s[3] for p, s in procs.items() if p == pid or s[2] == pid}
    frontier = list(members)
    while frontier:
        parent = frontier.pop()
        for p, s in procs.items():
            if s[1] == parent and p not in members:
                members[p] = s[3]
                frontier.append(p)
    return members


def _wait_gone(procs: Mapping[int, str], timeout: float) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while (left := {p: s for p, s in procs.items() if alive(p, s)}) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _signal(pids: Mapping[int, str], sig: int) -> None:
    for pid, start in pids.items():
        if alive(pid, start):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def terminate(pid: int, start: str, timeout: float = 30.0) -> None:
    """SIGTERM the process, then its session; SIGKILL what is left of its session and tree."""
    tree = family(pid, start)
    if alive(pid, start):
        _signal({pid: start}, signal.SIGTERM)  # the leader first: it shuts its own children down
        _wait_gone({pid: start}, timeout)
        tree.update(family(pid, start) if alive(pid, start) else {})
    left = {p: s for p, s in tree.items() if alive(p, s)}  # then whatever it left behind
    _signal(left, signal.SIGTERM)
    left = _wait_gone(left, 5)
    _signal(left, signal.SIGKILL)
    if left := _wait_gone(left, 10):
        raise StackError(f"processes {sorted(left)} survived SIGKILL")


# ----------------------------------------------------------------------------- supervisor

_CHILDREN: dict[tuple[str, str], subprocess.Popen] = {}  # (state dir, service) -> started by this process

class Supervisor:
    """Starts services as sessions of their own, records them in PID files, stops them by PID."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.pid_dir, self.log_dir = home / "pids", home / "logs"

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def record(self, name: str) -> tuple[int, str] | None:
        """(pid, start time) of a running service, else None. A stale PID file stays until stop():
        what is left of the service's session is found through it."""
        try:
            pid, start = (self.pid_dir / f"{name}.pid").read_text().split()
        except (OSError, ValueError):
            return None
        return (int(pid), start) if alive(int(pid), start) else None

    def spawn(self, service: Service) -> int:
        if record := self.record(service.name):
            raise StackError(f"{service.name} is already running (pid {record[0]})")
        self.stop(service.name)  # a stale PID file: what a crashed run of the stack left behind goes first
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path(service.name), "ab") as log:
            log.write(f"\n===== {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(service.argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                service.argv, env=service.env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                # A shell that started us in the background ignores SIGINT; dagster maps SIGTERM to
                # the SIGINT handler, so an inherited "ignore" would make the service unstoppable.
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
        start = None
        while start is None and proc.poll() is None:
            start = (_stat(proc.pid) or (None, 0, 0, None))[3]
        (self.pid_dir / f"{service.name}.pid").write_text(f"{proc.pid} {start}\n")
        _CHILDREN[(str(self.home), service.name)] = proc
        return proc.pid

    def start_all(self, services: list[Service], on_start: Callable[[Service, int], None]) -> None:
        """Start each service once those it comes after are ready; return when all are ready."""
        started: dict[str, float] = {}
        ready: set[str] = set()
        while len(ready) < len(services):
            for service in services:
                if service.name not in started and set(service.after) <= ready:
                    on_start(service, self.spawn(service))
                    started[service.name] = time.monotonic()
            for service in services:
                name = service.name
                if name not in started or name in ready:
                    continue
                if not self.record(name):
                    raise StackError(f"{service.label} exited during startup:\n{self.log_tail(name)}")
                try:
                    if service.ready():
                        ready.add(name)
                except StackError as error:
                    raise StackError(f"{service.label}: {error}\n{self.log_tail(name)}") from None
                if name not in ready and time.monotonic() - started[name] > service.timeout:
                    raise StackError(f"{service.label} not ready after {service.timeout:.0f}s:\n{self.log_tail(name)}")
            time.sleep(0.5)

    def stop(self, name: str, timeout: float = 30.0) -> None:
        try:  # even when the leader has died, what is left of its session must go
            pid, start = (self.pid_dir / f"{name}.pid").read_text().split()
        except (OSError, ValueError):
            return
        terminate(int(pid), start, timeout=timeout)
        if child := _CHILDREN.pop((str(self.home), name), None):
            child.wait(timeout=5)  # started by this process: reap it
        (self.pid_dir / f"{name}.pid").unlink(missing_ok=True)

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no log)"
        return "\n".join(f"    {line}" for line in text) + f"\n    (full log: {self.log_path(name)})"


# ----------------------------------------------------------------------------- health checks

def port_open(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, contains: str | None = None) -> bool:
    import requests

    try:
        response = requests.get(url, timeout=5)
    except requests.RequestException:
        return False
    return response.ok and (contains is None or contains in response.text)


def graphql(base_url: str, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    import requests

    response = requests.post(f"{base_url}/graphql", json={"query": query, "variables": variables or {}}, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise StackError(f"GraphQL errors: {body['errors']}")
    return body["data"]


WORKSPACE_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
DAEMON_QUERY = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"


def dagster_ready(base_url: str) -> bool:
    """The webserver answers and every code location has loaded; a load error is fatal."""
    if not http_ok(f"{base_url}/server_info"):
        return False
    entries = graphql(base_url, WORKSPACE_QUERY)["workspaceOrError"].get("locationEntries") or []
    for entry in entries:
        error = entry.get("locationOrLoadError") or {}
        if error.get("__typename") == "PythonError":
            raise StackError(f"code location {entry['name']} failed to load: {error['message'][:2000]}")
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


def daemons_healthy(base_url: str) -> bool:
    try:
        statuses = graphql(base_url, DAEMON_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
    except Exception:  # the webserver may not be up yet
        return False
    return all(s["healthy"] for s in statuses if s["required"])


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


def _mlflow(env: dict[str, str], port: int, store_env: dict[str, str], artifact_args: list[str]) -> Service:
    return Service(
        "mlflow", "MLflow UI",
        [str(BIN / "mlflow"), "server", "--host", HOST, "--port", str(port), "--workers", "1", *artifact_args],
        # The backend URI (it may hold a password) travels in the environment, not on the command line.
        {**env, **store_env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        ready=lambda: http_ok(f"http://{HOST}:{port}/health", "OK"), url=f"http://{HOST}:{port}",
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


def embedded_dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or paths.data_dir() / "dagster_home").resolve()


def prepare_embedded_home(home: Path) -> Path:
    """$DAGSTER_HOME (else data/dagster_home) with the project's dagster.yaml and no first-visit pop-up."""
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    (home / ".nux").mkdir(exist_ok=True)
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    return home


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
    )
    services = [dagster]
    remote = os.environ.get("MLFLOW_TRACKING_URI", "")
    backend, artifacts = embedded_mlflow_store()
    if not remote.startswith(("http://", "https://")):
        # The UI serves the same store the assets write to, so `shopverse run` and runs launched
        # from the Dagster UI show up alike. Artifacts stay plain files (no proxy): experiments
        # created by the assets hold file:// locations that the local store must keep using.
        services.insert(0, _mlflow(env, mlflow_port, {"MLFLOW_BACKEND_STORE_URI": backend},
                                   ["--default-artifact-root", artifacts.as_uri(), "--no-serve-artifacts"]))

    def prepare() -> None:
        prepare_embedded_home(home)
        artifacts.mkdir(parents=True, exist_ok=True)
        if backend.startswith("sqlite:///"):
            Path(backend.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    stack = Stack("up", paths.data_dir() / "stack", services, dict(os.environ), marquez=choice, prepare=prepare)
    if remote.startswith(("http://", "https://")):
        stack.extra_urls["MLflow UI"] = f"{remote.rstrip('/')}  (MLFLOW_TRACKING_URI)"
    return stack


def prod_stack(environ: Mapping[str, str] | None = None) -> Stack:
    """The production configuration (docker-compose.yml) as processes on 127.0.0.1."""
    src = dict(os.environ if environ is None else environ)
    home = Path(src.get("SHOPVERSE_PROD_HOME") or REPO / ".services" / "prod-local").resolve()
    grpc_port = _port(src, "SHOPVERSE_PROD_GRPC_PORT", 4266)
    web_port = _port(src, "SHOPVERSE_PROD_WEBSERVER_PORT", 3300)
    mlflow_port = _port(src, "SHOPVERSE_PROD_MLFLOW_PORT", 5055)
    mq_port, mq_admin = _port(src, "SHOPVERSE_PROD_MARQUEZ_PORT", 5100), _port(src, "SHOPVERSE_PROD_MARQUEZ_ADMIN_PORT", 5101)
    pg_port = _port(src, "SHOPVERSE_PG_PORT", 55432)
    pg_user, pg_password = src.get("SHOPVERSE_PG_USER", "shopverse"), src.get("SHOPVERSE_PG_PASSWORD", "shopverse")
    dagster_db, mlflow_db = src.get("DAGSTER_PG_DB", "dagster"), src.get("MLFLOW_PG_DB", "mlflow")
    choice = marquez_choice(src, mq_port)
    script_env = {**src, "MARQUEZ_PORT": str(mq_port), "MARQUEZ_ADMIN_PORT": str(mq_admin)}
    dagster_home = home / "dagster_home"
    base = _base_env(src)
    common = {
        **base, "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_HOST": HOST, "DAGSTER_PG_PORT": str(pg_port), "DAGSTER_PG_USER": pg_user,
        "DAGSTER_PG_PASSWORD": pg_password, "DAGSTER_PG_DB": dagster_db,
        "DAGSTER_MAX_CONCURRENT_RUNS": src.get("DAGSTER_MAX_CONCURRENT_RUNS", "1"),
        "DAGSTER_GRPC_HOST": HOST, "DAGSTER_GRPC_PORT": str(grpc_port),
        "MLFLOW_TRACKING_URI": f"http://{HOST}:{mlflow_port}",
        "SHOPVERSE_UI_URL": src.get("SHOPVERSE_UI_URL") or f"http://{HOST}:{web_port}",  # run links in alerts
    }
    if choice.url:
        common["OPENLINEAGE_URL"] = choice.url
    web = f"http://{HOST}:{web_port}"
    workspace = str(REPO / "deploy" / "workspace.yaml")
    grpc = Service(
        "grpc", "code location (gRPC)",
        [str(BIN / "dagster"), "api", "grpc", "-m", "shopverse_platform.definitions", "-h", HOST, "-p", str(grpc_port)],
        common, ready=lambda: port_open(grpc_port),
    )
    webserver = Service(
        "webserver", "Dagster UI", [str(BIN / "dagster-webserver"), "-h", HOST, "-p", str(web_port), "-w", workspace],
        common, ready=lambda: dagster_ready(web), url=web, after=("grpc",),
    )
    daemon = Service("daemon", "Dagster daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], common,
                     ready=lambda: daemons_healthy(web), after=("grpc",))
    store = {"MLFLOW_BACKEND_STORE_URI": f"postgresql+psycopg2://{pg_user}:{pg_password}@{HOST}:{pg_port}/{mlflow_db}"}
    # As in docker-compose.yml: artifacts proxied through the server (mlflow-artifacts:/), so that
    # clients need no access to the artifact store.
    mlflow = _mlflow(base, mlflow_port, store, ["--artifacts-destination", str(home / "mlflow-artifacts")])

    def prepare() -> None:
        dagster_home.mkdir(parents=True, exist_ok=True)
        (home / "mlflow-artifacts").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")

    return Stack("prod", home, [grpc, mlflow, webserver, daemon], script_env,
                 databases=[dagster_db, mlflow_db], marquez=choice, prepare=prepare)


# ----------------------------------------------------------------------------- start / stop

def _state_path(home: Path) -> Path:
    return home / "stack.json"


def read_state(home: Path) -> dict | None:
    try:
        return json.loads(_state_path(home).read_text())
    except (OSError, ValueError):
        return None


def _write_state(home: Path, state: dict) -> None:
    home.mkdir(parents=True, exist_ok=True)
    tmp = _state_path(home).with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(_state_path(home))


def start(stack: Stack, log: Callable[[str], None] = print) -> dict:
    """Start every service and wait until each is ready; on any failure stop what was started."""
    supervisor = Supervisor(stack.home)
    running = [s.name for s in stack.services if supervisor.record(s.name)]
    if running:
        raise StackError(f"already running: {', '.join(running)} (state in {stack.home}); stop it first")
    state = {"mode": stack.mode, "supervisor": None, "services": [], "started_postgres": False,
             "started_marquez": False, "script_env": stack.script_env, "urls": stack.urls()}
    _write_state(stack.home, state)
    t0 = time.monotonic()
    marquez: concurrent.futures.Future | None = None
    try:
        stack.prepare()
        if stack.databases or stack.marquez.mode == "local":
            if _script("postgres.sh", "status", env=stack.script_env, check=False) != 0:
                log("starting PostgreSQL (scripts/services/postgres.sh)")
                _script("postgres.sh", "start", env=stack.script_env)
                state["started_postgres"] = True
                _write_state(stack.home, state)
            for name in stack.databases:
                _script("postgres.sh", "createdb", name, env=stack.script_env)
        if stack.marquez.mode == "local" and _script("marquez.sh", "status", env=stack.script_env, check=False) != 0:
            log("starting Marquez (scripts/services/marquez.sh)")
            state["started_marquez"] = True
            _write_state(stack.home, state)
            # The JVM takes half a minute: start it alongside the Python services.
            pool = concurrent.futures.ThreadPoolExecutor(1)
            marquez = pool.submit(_script, "marquez.sh", "start", env=stack.script_env)
            pool.shutdown(wait=False)  # the script keeps running; start() waits for it below

        def started(service: Service, pid: int) -> None:
            state["services"].append(service.name)
            _write_state(stack.home, state)
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
    _write_state(stack.home, state)
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
        if _wait_gone({owner[0]: owner[1]}, supervisor_timeout):
            terminate(*owner)
    supervisor = Supervisor(home)
    names = list(reversed(state.get("services", [])))
    running = [name for name in names if supervisor.record(name)]
    if running:
        log(f"stopping {', '.join(running)}")
    # All at once: each takes a few seconds to shut down, and none needs another to do so.
    with concurrent.futures.ThreadPoolExecutor(max(1, len(names))) as pool:
        list(pool.map(supervisor.stop, names))
    env = state.get("script_env") or dict(os.environ)
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


def rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    total = 0
    for member in family(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


# ----------------------------------------------------------------------------- commands

class _Stop(Exception):
    pass


def _raise_stop(signum, frame):  # noqa: ARG001
    raise _Stop(signal.Signals(signum).name)


def print_urls(state: dict) -> None:
    print("\nShopVerse stack is up:")
    for label, url in state["urls"].items():
        print(f"  {label:<13} {url}")


def serve(stack: Stack, detach: bool = False) -> int:
    """Start ``stack``, print its URLs, then either return (detach) or stay in the foreground until
    Ctrl-C, SIGTERM (`shopverse down`) or a service dying, and stop everything it started."""
    if not stack.marquez.url:
        print(f"Marquez: not started ({stack.marquez.reason})")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stop)
    try:
        state = start(stack)
        print_urls(state)
        if detach:
            print(f"Started in {state['startup_seconds']}s; `shopverse down` stops it (state: {stack.home}).")
            return 0
        state["supervisor"] = [os.getpid(), _stat(os.getpid())[3]]
        _write_state(stack.home, state)
        print(f"Started in {state['startup_seconds']}s. Ctrl-C or `shopverse down` stops everything.", flush=True)
        supervisor = Supervisor(stack.home)
        while True:  # a service that dies takes the stack down with it, rather than half-working
            time.sleep(2)
            dead = [s for s in stack.services if not supervisor.record(s.name)]
            if dead:
                print(f"{dead[0].label} stopped unexpectedly:\n{supervisor.log_tail(dead[0].name)}", file=sys.stderr)
                return 1
    except _Stop as reason:
        print(f"\n{reason}: stopping", flush=True)
        return 0
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if not detach:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second Ctrl-C must not abort the clean-up
                signal.signal(sig, signal.SIG_IGN)
            stop(stack.home)


def cmd_up(args: argparse.Namespace) -> int:
    return serve(up_stack(args.dagster_port, args.mlflow_port, marquez=not args.no_marquez), detach=args.detach)


def cmd_down(args: argparse.Namespace) -> int:  # noqa: ARG001
    stop(paths.data_dir() / "stack")
    return 0


def add_stack_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `up` and `down` on the `shopverse` command's sub-parsers."""
    up = subparsers.add_parser("up", help="start the Dagster UI and daemon, the MLflow UI and Marquez (if configured)")
    up.add_argument("--dagster-port", type=int, default=None, help="default $SHOPVERSE_DAGSTER_PORT or 3000")
    up.add_argument("--mlflow-port", type=int, default=None, help="default $SHOPVERSE_MLFLOW_PORT or 5050")
    up.add_argument("--no-marquez", action="store_true", help="do not start Marquez even if it is installed")
    up.add_argument("--detach", action="store_true", help="return once everything is healthy; stop with `shopverse down`")
    up.set_defaults(func=cmd_up)
    down = subparsers.add_parser("down", help="stop what `shopverse up` started")
    down.set_defaults(func=cmd_down)


def cmd_prod(args: argparse.Namespace) -> int:
    stack = prod_stack()
    if args.action == "stop":
        stop(stack.home)
        return 0
    if args.action == "status":
        pids = status(stack.home)
        if not pids:
            print(f"not started (no state in {stack.home})")
        for name, pid in pids.items():
            print(f"{name:<10} {'running, pid %d, rss %.0f MiB' % (pid, rss_mib(pid)) if pid else 'stopped'}")
        return 0 if pids and all(pids.values()) else 3
    if not stack.marquez.url:
        print(f"Marquez: not started ({stack.marquez.reason})")
    try:
        state = start(stack)
    except StackError as error:
        print(f"prod_local: {error}", file=sys.stderr)
        return 1
    print_urls(state)
    print(f"Started in {state['startup_seconds']}s (state: {stack.home}).")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shopverse_platform.lib.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    add_stack_commands(sub)
    prod = sub.add_parser("prod", help="the production configuration as local processes")
    prod.add_argument("action", choices=["start", "stop", "status"])
    prod.set_defaults(func=cmd_prod)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
