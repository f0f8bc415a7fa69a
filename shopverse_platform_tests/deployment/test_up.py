"""`shopverse up` / `shopverse down` for real: dagster dev (UI + daemon) and the MLflow UI on the
embedded defaults, Marquez when configured; nothing left running afterwards.

One start only (dagster dev takes most of a minute on two busy cores): Ctrl-C, `down` and a dying
service are covered on cheap processes in test_stack.py, through the same code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from shopverse_platform.cli import readiness, stack, supervisor
from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform_tests.conftest import free_ports
from shopverse_platform_tests.deployment.conftest import (
    clean_env,
    processes_mentioning,
    shared_temp_dir,
)

pytestmark = pytest.mark.services

READY_LINE = re.compile(r"Started in ([\d.]+)s")


class UpProcess:
    """`python -m shopverse_platform.cli.stack_commands up ...` with its output collected as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shopverse_platform.cli.stack_commands", "up", *args], cwd=PROJECT_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_ready(self, timeout: float = 240) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := READY_LINE.search(self.output):
                return float(match.group(1))
            if self.proc.poll() is not None:
                time.sleep(0.5)  # let the reader drain the last lines
                pytest.fail(f"shopverse up exited with {self.proc.returncode}:\n{self.output[-6000:]}")
            time.sleep(0.5)
        pytest.fail(f"shopverse up not ready after {timeout}s:\n{self.output[-6000:]}")

    def urls(self) -> dict[str, str]:
        return dict(re.findall(r"^  (Dagster UI|MLflow UI|Marquez API|Reports|Collector|Demo shop)\s+(\S+)$", self.output, re.M))


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_text()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def test_up_serves_the_uis_and_down_leaves_nothing_behind():
    root = shared_temp_dir("shopverse-up-")
    dagster, mlflow, marquez, reports, collector = free_ports(5)
    # "Configured" Marquez: an external one, as a team would point at a shared server. Nothing is
    # started for it; the Dagster processes get it as their OpenLineage endpoint. (A Marquez started
    # from its jars is exercised by the prod_local tests, through the same code.)
    env = clean_env(SHOPVERSE_DATA_DIR=root / "data", SHOPVERSE_DAGSTER_PORT=dagster, SHOPVERSE_MLFLOW_PORT=mlflow,
                    SHOPVERSE_REPORTS_PORT=reports, SHOPVERSE_COLLECTOR_PORT=collector,
                    MARQUEZ_URL=f"http://127.0.0.1:{marquez}")
    up = UpProcess([], env)
    try:
        startup = up.wait_for_ready()
        urls = up.urls()
        assert urls == {"Dagster UI": f"http://127.0.0.1:{dagster}",
                        "MLflow UI": f"http://127.0.0.1:{mlflow}/#/experiments?workflowType=machine_learning",
                        "Marquez API": f"http://127.0.0.1:{marquez}/api/v1", "Reports": f"http://127.0.0.1:{reports}/",
                        "Collector": f"http://127.0.0.1:{collector}/v1/events",
                        "Demo shop": f"http://127.0.0.1:{collector}/shop/"}, up.output
        # the collector is up, and serves the demo shop wired with its tracker
        assert requests.get(f"http://127.0.0.1:{collector}/health", timeout=10).json()["status"] == "ok"
        assert '<script src="/tracker.js"' in requests.get(urls["Demo shop"], timeout=10).text
        # Reports: the folder's index is served before any report exists, and a page written later
        # is served with the shared plotly.js it loads
        index = requests.get(urls["Reports"], timeout=10)
        assert index.ok and "No report has been written yet" in index.text
        from shopverse_platform.lib.reports import render
        (root / "data" / "reports" / "daily").mkdir(parents=True, exist_ok=True)
        render.shared_plotly(root / "data" / "reports")
        (root / "data" / "reports" / "daily" / "2026-11-11.html").write_text("<html>a day</html>")
        render.write_index(root / "data" / "reports")
        assert 'href="daily/2026-11-11.html"' in requests.get(urls["Reports"], timeout=10).text
        assert requests.get(f"{urls['Reports']}daily/2026-11-11.html", timeout=10).text == "<html>a day</html>"
        assert requests.get(f"{urls['Reports']}{render.PLOTLY_FILE}", timeout=10).text.startswith("/**")
        assert _environ(supervisor.Supervisor(root / "data" / "stack").record("dagster")[0])["SHOPVERSE_REPORTS_URL"] == \
            f"http://127.0.0.1:{reports}"
        # Dagster: the UI answers, the code location loaded, every required daemon is healthy.
        assert readiness.dagster_ready(urls["Dagster UI"]) and readiness.daemons_healthy(urls["Dagster UI"])
        # MLflow: the UI and its REST API on the embedded store under the data directory.
        mlflow_base = f"http://127.0.0.1:{mlflow}"
        assert requests.get(f"{mlflow_base}/health", timeout=10).text == "OK"
        search = requests.get(f"{mlflow_base}/api/2.0/mlflow/experiments/search?max_results=10", timeout=10)
        assert search.ok, search.text
        backend, _ = stack.embedded_mlflow_store()
        assert (root / "data" / "mlflow").is_dir() and backend.startswith("sqlite:///")
        home = root / "data" / "stack"
        dagster_pid = supervisor.Supervisor(home).record("dagster")[0]
        environ = _environ(dagster_pid)
        assert environ["OPENLINEAGE_URL"] == f"http://127.0.0.1:{marquez}"
        assert environ["DAGSTER_HOME"] == str(root / "data" / "dagster_home")
        assert (root / "data" / "dagster_home" / ".nux" / "nux.yaml").read_text() == "seen: 1\n"
        tree = supervisor.family(up.proc.pid)
        for name in ("dagster", "mlflow", "reports"):
            tree.update(supervisor.family(supervisor.Supervisor(home).record(name)[0]))
        rss = sum(supervisor.rss_mib(supervisor.Supervisor(home).record(n)[0]) for n in ("dagster", "mlflow"))
        print(f"\nshopverse up: ready in {startup}s; {len(tree)} processes, RSS {rss:.0f} MiB")
        # It stays healthy in the foreground...
        time.sleep(3)
        assert up.proc.poll() is None and readiness.daemons_healthy(urls["Dagster UI"])
        # ...until `shopverse down`, from another terminal, stops it and everything it started.
        down = subprocess.run([sys.executable, "-m", "shopverse_platform.cli.stack_commands", "down"], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=180)
        assert down.returncode == 0, down.stdout + down.stderr
        assert up.proc.wait(timeout=60) == 0, up.output[-3000:]
        assert "SIGTERM: stopping" in up.output
        deadline = time.monotonic() + 10
        while (left := [p for p, s in tree.items() if supervisor.alive(p, s)]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"processes left behind: {left}"
        assert not processes_mentioning(str(root))
        assert not readiness.port_open(dagster) and not readiness.port_open(mlflow) and not readiness.port_open(reports)
        assert stack.read_state(home) is None
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
        subprocess.run([sys.executable, "-m", "shopverse_platform.cli.stack_commands", "down"], cwd=PROJECT_ROOT, env=env,
                       capture_output=True, timeout=180)
        shutil.rmtree(root, ignore_errors=True)
