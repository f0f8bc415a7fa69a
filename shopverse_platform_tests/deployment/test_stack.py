"""The process supervisor behind `shopverse up|down` and scripts/stack/prod_local.sh, with plain
processes (bash, sleep): no service needed, a few seconds in all."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopverse_platform.cli import stack, stack_commands
from shopverse_platform.cli.supervisor import (
    Service,
    StackError,
    Supervisor,
    alive,
    family,
)
from shopverse_platform_tests.deployment.conftest import clean_env


def _service(name: str, script: str, ready=lambda: True, after: tuple[str, ...] = ()) -> Service:
    return Service(name, name, ["bash", "-c", script], clean_env(), ready=ready, after=after, timeout=20)


def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_stop_ends_the_whole_process_tree_even_a_child_that_ignores_sigterm(tmp_path):
    supervisor = Supervisor(tmp_path)
    # A grandchild in the same session and a child that ignores SIGTERM (it needs SIGKILL).
    pid = supervisor.spawn(_service("tree", "bash -c 'sleep 300 & wait' & bash -c 'trap \"\" TERM; sleep 301 & wait' & wait"))
    tree = _wait_for(lambda: f if len(f := family(pid)) >= 5 else None)  # 3 bash + 2 sleep
    assert Supervisor(tmp_path).record("tree") == (pid, tree[pid])  # read back from the PID file
    started = time.monotonic()
    supervisor.stop("tree", timeout=2)
    assert not [p for p, start in tree.items() if alive(p, start)]
    assert time.monotonic() - started < 15
    assert not (tmp_path / "pids" / "tree.pid").exists()


def test_a_recycled_pid_is_never_signalled(tmp_path):
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "pids").mkdir()
        # A PID file whose PID now belongs to another process (the start time differs).
        (tmp_path / "pids" / "old.pid").write_text(f"{stranger.pid} 1\n")
        supervisor = Supervisor(tmp_path)
        assert supervisor.record("old") is None
        supervisor.stop("old")  # finds nothing of its own to stop
        assert stranger.poll() is None, "the unrelated process was signalled"
        assert not (tmp_path / "pids" / "old.pid").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_services_start_after_their_dependencies_are_ready(tmp_path):
    flag = tmp_path / "first-ready"
    order: list[str] = []
    first = _service("first", f"sleep 0.5; touch {flag}; exec sleep 300", ready=flag.exists)
    second = _service("second", "exec sleep 300", after=("first",))
    supervisor = Supervisor(tmp_path / "state")
    try:
        supervisor.start_all([second, first], lambda service, pid: order.append(service.name))
        assert order == ["first", "second"]
    finally:
        supervisor.stop("first")
        supervisor.stop("second")


def test_a_failed_startup_reports_the_log_and_stops_what_started(tmp_path):
    survivor = _service("survivor", "exec sleep 300")
    broken = _service("broken", "echo 'cannot bind 127.0.0.1:1' >&2; exit 3", ready=lambda: False, after=("survivor",))
    plan = stack.Stack("test", tmp_path, [survivor, broken], clean_env())
    with pytest.raises(StackError, match="cannot bind 127.0.0.1:1"):
        stack.start(plan, log=lambda line: None)
    assert Supervisor(tmp_path).record("survivor") is None
    assert stack.read_state(tmp_path) is None


def test_start_refuses_a_second_stack_on_the_same_state(tmp_path):
    plan = stack.Stack("test", tmp_path, [_service("one", "exec sleep 300")], clean_env())
    stack.start(plan, log=lambda line: None)
    try:
        with pytest.raises(StackError, match="already running: one"):
            stack.start(plan, log=lambda line: None)
        assert stack.status(tmp_path)["one"]
    finally:
        stack.stop(tmp_path, log=lambda line: None)
    assert stack.status(tmp_path) == {}


def test_marquez_is_started_only_when_configured(tmp_path):
    assert stack.marquez_choice({"MARQUEZ_URL": "http://mq:5000/"}, 5000) == stack.Marquez("external", "http://mq:5000")
    off = stack.marquez_choice({"MARQUEZ_LIB_DIR": str(tmp_path)}, 5000)
    assert off.mode == "off" and str(tmp_path) in off.reason
    (tmp_path / ".resolved").write_text("marquez-api=0.51.1\n")
    assert stack.marquez_choice({"MARQUEZ_LIB_DIR": str(tmp_path)}, 5123) == stack.Marquez("local", "http://127.0.0.1:5123")
    assert stack.marquez_choice({"MARQUEZ_LIB_DIR": str(tmp_path)}, 5123, wanted=False).mode == "off"


def _ports(service: Service) -> set[int]:
    argv = service.argv
    # python -m http.server takes its port as its first argument
    return {int(argv[i + 1]) for i, arg in enumerate(argv[:-1]) if arg in ("-p", "--port", "http.server")}


def test_default_ports(monkeypatch, tmp_path):
    for name in ("SHOPVERSE_DAGSTER_PORT", "SHOPVERSE_MLFLOW_PORT", "SHOPVERSE_REPORTS_PORT", "SHOPVERSE_COLLECTOR_PORT", "MARQUEZ_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MARQUEZ_LIB_DIR", str(tmp_path))  # no jars: no Marquez
    up = stack.up_stack()
    assert {s.name: _ports(s) for s in up.services} == {"dagster": {3000}, "mlflow": {5050}, "reports": {8090},
                                                              "collector": {8070}}
    prod = stack.prod_stack({"PATH": "/usr/bin", "MARQUEZ_LIB_DIR": str(tmp_path)})
    prod_ports = set().union(*(_ports(s) for s in prod.services))
    assert prod_ports and not prod_ports & {3000, 5000, 5050, 8090, 8070}, "prod_local must not collide with `shopverse up`"


def test_add_stack_commands_registers_up_and_down():
    parser = argparse.ArgumentParser(prog="shopverse")
    stack_commands.add_stack_commands(parser.add_subparsers(dest="command", required=True))
    up = parser.parse_args(["up", "--detach", "--no-marquez", "--dagster-port", "3100", "--mlflow-port", "5100"])
    assert (up.func, up.detach, up.no_marquez, up.dagster_port, up.mlflow_port) == (stack_commands.cmd_up, True, True, 3100, 5100)
    assert parser.parse_args(["down"]).func is stack_commands.cmd_down


def test_prod_local_script_documents_itself():
    result = subprocess.run(["bash", "scripts/stack/prod_local.sh"], cwd=Path(stack.REPO), capture_output=True, text=True)
    assert result.returncode == 2
    assert "start" in result.stderr and "SHOPVERSE_PROD_WEBSERVER_PORT" in result.stderr


SERVE = """
import os, sys
from pathlib import Path
from shopverse_platform.cli import stack
from shopverse_platform.cli import stack_commands
from shopverse_platform.cli.supervisor import Service
service = Service("sleeper", "Sleeper", ["bash", "-c", "sleep 300 & wait"], dict(os.environ),
                  ready=lambda: True, url="http://127.0.0.1:9")
sys.exit(stack_commands.serve(stack.Stack("test", Path(sys.argv[1]), [service], {}), detach=False))
"""


def _serve_in_foreground(home: Path) -> tuple[subprocess.Popen, dict[int, str]]:
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(home)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=stack.REPO)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Started in"):
            break
    assert any("Sleeper       http://127.0.0.1:9" in line for line in lines), lines
    return proc, _wait_for(lambda: f if len(f := family(proc.pid)) >= 3 else None)


@pytest.mark.parametrize("how", ["ctrl-c", "down", "service dies"])
def test_foreground_stack_stops_everything_it_started(tmp_path, how):
    proc, tree = _serve_in_foreground(tmp_path)
    sleeper = Supervisor(tmp_path).record("sleeper")
    if how == "ctrl-c":
        proc.send_signal(signal.SIGINT)
    elif how == "down":
        stack.stop(tmp_path, log=lambda line: None)  # what `shopverse down` does from another terminal
    else:
        os.kill(sleeper[0], signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == (1 if how == "service dies" else 0), rest
    assert not [p for p, start in tree.items() if alive(p, start)]
    assert stack.read_state(tmp_path) is None


def test_the_state_file_holds_no_secret_and_only_its_owner_reads_it(tmp_path, monkeypatch):
    """`shopverse up` used to write its whole environment (API keys, passwords) to stack.json, mode 0644."""
    env = {**clean_env(), "SHOPVERSE_PG_PASSWORD": "pg-secret", "OPENLINEAGE_API_KEY": "ol-secret",
           "MLFLOW_TRACKING_URI": "postgresql://mlflow:db-secret@127.0.0.1/mlflow", "SHOPVERSE_PG_PORT": "55432",
           "MARQUEZ_PORT": "5999"}
    plan = stack.Stack("test", tmp_path, [_service("one", "exec sleep 300")], env)
    stack.start(plan, log=lambda line: None)
    try:
        state_file = tmp_path / "stack.json"
        text = state_file.read_text()
        assert "secret" not in text
        assert state_file.stat().st_mode & 0o777 == 0o600
        assert stack.read_state(tmp_path)["script_settings"] == {"SHOPVERSE_PG_PORT": "55432", "MARQUEZ_PORT": "5999"}
    finally:
        stack.stop(tmp_path, log=lambda line: None)


def test_the_production_stack_runs_celery_workers_only_when_asked(tmp_path, monkeypatch):
    """$SHOPVERSE_PROD_CELERY_WORKERS=N: a Redis broker first, N workers after it and the code
    location, and the broker set for the services that launch and execute runs; none by default."""
    env = {"PATH": os.environ["PATH"], "MARQUEZ_LIB_DIR": str(tmp_path), "SHOPVERSE_PROD_HOME": str(tmp_path / "home")}
    plain = stack.prod_stack(env)
    assert [s.name for s in plain.services] == ["grpc", "mlflow", "webserver", "daemon"]
    assert all("SHOPVERSE_CELERY_BROKER" not in s.env for s in plain.services)

    monkeypatch.setattr(stack.shutil, "which", lambda name: f"/usr/bin/{name}")
    prod = stack.prod_stack({**env, "SHOPVERSE_PROD_CELERY_WORKERS": "2", "SHOPVERSE_PROD_REDIS_PORT": "16390"})
    names = [s.name for s in prod.services]
    assert names == ["redis", "grpc", "mlflow", "webserver", "daemon", "celery-worker-1", "celery-worker-2"]
    services = {s.name: s for s in prod.services}
    assert services["redis"].argv[:3] == ["/usr/bin/redis-server", "--port", "16390"] and services["redis"].port == 16390
    assert services["celery-worker-2"].after == ("redis", "grpc")
    assert services["celery-worker-2"].argv[-2:] == ["--name", f"w2@{stack.socket.gethostname()}"]
    for name in ("grpc", "webserver", "daemon", "celery-worker-1"):
        assert services[name].env["SHOPVERSE_CELERY_BROKER"] == "redis://127.0.0.1:16390/0", name
    assert prod.urls()["Celery broker"] == "redis://127.0.0.1:16390/0"

    with pytest.raises(StackError, match="SHOPVERSE_PROD_CELERY_WORKERS must be a number of workers, got 'two'"):
        stack.prod_stack({**env, "SHOPVERSE_PROD_CELERY_WORKERS": "two"})
    monkeypatch.setattr(stack.shutil, "which", lambda name: None)
    with pytest.raises(StackError, match="needs redis-server, the broker: bash scripts/services/install.sh redis"):
        stack.prod_stack({**env, "SHOPVERSE_PROD_CELERY_WORKERS": "1"})


def test_prod_local_refuses_celery_workers_it_cannot_start_in_one_line_and_still_stops(tmp_path, monkeypatch, capsys):
    """A setting start refuses (no redis-server for the workers asked for) is one line and exit 1, not
    a traceback; stop and status need only the stack's home, so they work whatever it says."""
    monkeypatch.setenv("SHOPVERSE_PROD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPVERSE_PROD_CELERY_WORKERS", "2")
    monkeypatch.setattr(stack.shutil, "which", lambda name: None)
    assert stack_commands.cmd_prod(argparse.Namespace(action="start")) == 1
    assert capsys.readouterr().err == ("prod_local: SHOPVERSE_PROD_CELERY_WORKERS needs redis-server, the broker: "
                                       "bash scripts/services/install.sh redis\n")
    monkeypatch.setenv("SHOPVERSE_PROD_CELERY_WORKERS", "two")
    assert stack_commands.cmd_prod(argparse.Namespace(action="stop")) == 0
    assert stack_commands.cmd_prod(argparse.Namespace(action="status")) == 3
