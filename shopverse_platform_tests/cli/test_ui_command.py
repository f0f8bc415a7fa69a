"""`shopverse ui` starts the dagster beside its own interpreter, so it works without the virtual
environment activated (run as .venv/bin/shopverse, or from make)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from shopverse_platform.cli import main


def test_ui_runs_the_dagster_of_its_own_environment_even_off_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the environment not activated
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    started = []
    monkeypatch.setattr(subprocess, "call", lambda command, **kwargs: started.append(command) or 0)
    assert main.cmd_ui(argparse.Namespace(host="127.0.0.1", port=3999)) == 0
    [command] = started
    executable = Path(command[0])
    assert executable.parent == Path(sys.executable).parent and executable.name == "dagster"
    assert executable.exists() and os.access(executable, os.X_OK)
    assert command[1:3] == ["dev", "-w"] and command[-4:] == ["-h", "127.0.0.1", "-p", "3999"]
