"""`shopverse ui` starts the dagster beside its own interpreter, so it works without the virtual
environment activated (run as .venv/bin/shopverse, or from make). Started the way a shell starts a
background command (SIGINT ignored: `&`, nohup), it stops with its webserver, daemon and code
server on SIGTERM. Before: the command ran `dagster dev` as a child and died alone on SIGTERM,
leaving the three orphaned; and `dagster dev`, which maps SIGTERM onto SIGINT's handler, inherited
the ignored SIGINT and ran on for over a minute."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from shopverse_platform.cli import main
from shopverse_platform_tests.conftest import free_port, stop_process_group


def test_ui_runs_the_dagster_of_its_own_environment_even_off_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the environment not activated
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    started, signals = [], []
    monkeypatch.setattr(os, "execv", lambda path, command: started.append((path, command)))
    monkeypatch.setattr(os, "chdir", lambda path: None)  # the test process stays where it is
    monkeypatch.setattr(signal, "signal", lambda number, handler: signals.append((number, handler)))
    main.cmd_ui(argparse.Namespace(host="127.0.0.1", port=3999))
    [(path, command)] = started
    executable = Path(command[0])
    assert path == command[0]  # this process becomes dagster dev
    assert executable.parent == Path(sys.executable).parent and executable.name == "dagster"
    assert executable.exists() and os.access(executable, os.X_OK)
    assert command[1:3] == ["dev", "-w"] and command[-4:] == ["-h", "127.0.0.1", "-p", "3999"]
    assert signals == [(signal.SIGINT, signal.SIG_DFL)]  # not left ignored across the exec


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.services
def test_ui_started_in_the_background_stops_with_its_processes_on_sigterm(tmp_path):
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home"), "SHOPVERSE_DATA_DIR": str(tmp_path / "data")}
    ui = subprocess.Popen(
        [sys.executable, "-m", "shopverse_platform.cli.main", "ui", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as `&` in a script does
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert ui.poll() is None and time.monotonic() < deadline, "the UI never answered"
            time.sleep(1)
        children = _children(ui.pid)
        assert len(children) >= 2  # the webserver and the daemon (and the code server) under this very PID
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=90)  # not a speed assertion: a bound for "it stops at all" (it used to run on)
        deadline = time.monotonic() + 60
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [pid for pid in children if _alive(pid)], "processes left running after SIGTERM"
    finally:
        stop_process_group(ui)
