"""Shared fixtures: a temporary warehouse, landing zone and Dagster instance per test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.paths import shared_data_dir

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the developer's data/ or Dagster home."""
    monkeypatch.setenv("SHOPVERSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    for name in ("SHOPVERSE_WAREHOUSE", "SHOPVERSE_LANDING_DIR", "SHOPVERSE_ORDER_EXPORTS", "OPENLINEAGE_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def landing_dir(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(path=str(tmp_path / "warehouse.duckdb"))


@pytest.fixture
def resources(warehouse: Warehouse, landing_dir: Path) -> dict[str, object]:
    return {"warehouse": warehouse, "landing_zone": LandingZone(path=str(landing_dir))}


@dataclass
class Built:
    """A warehouse built by a fixture, with the resources that built it, and ways to read it."""

    warehouse: Warehouse
    resources: dict

    def query(self, sql: str, params: list | dict | None = None) -> list[tuple]:
        with self.warehouse.connect(read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def frame(self, sql: str):
        with self.warehouse.connect(read_only=True) as con:
            return con.execute(sql).df()

    def row(self, table: str, where: str, params: list | None = None) -> dict:
        """The one row of ``table`` matching ``where``, as a dict (fails unless exactly one)."""
        with self.warehouse.connect(read_only=True) as con:
            cursor = con.execute(f"SELECT * FROM {table} WHERE {where}", params or [])
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        assert len(rows) == 1, f"{table} WHERE {where}: {len(rows)} rows"
        return dict(zip(names, rows[0]))

    def materialize(self, assets, **kwargs) -> dg.ExecuteInProcessResult:
        kwargs.setdefault("instance", dg.DagsterInstance.ephemeral())
        return dg.materialize(assets, resources=self.resources, **kwargs)


@pytest.fixture
def query(warehouse: Warehouse):
    """Run a read query against the test warehouse and return all rows."""
    return Built(warehouse, {}).query


def materialize_range(assets, resources, start: str, end: str, **kwargs) -> dg.ExecuteInProcessResult:
    """Materialize daily-partitioned assets over the inclusive range [start, end] in one run."""
    return dg.materialize(
        assets, resources=resources, tags={RANGE_START: start, RANGE_END: end}, instance=dg.DagsterInstance.ephemeral(), **kwargs
    )


@pytest.fixture(scope="session")
def online_retail_file() -> Path:
    path = shared_data_dir() / "online_retail.csv.gz"
    if not path.is_file():
        pytest.fail(f"the real dataset is missing: {path} (../shared/data must sit beside the project)")
    return path


def free_ports(count: int) -> list[int]:
    """Loopback ports nobody listens on, held open together so that they differ. A port from here
    is also a "closed" address: nothing answers on it."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def stop_process_group(process: subprocess.Popen, timeout: float = 30, first_signal: int = signal.SIGTERM) -> None:
    """Stop a process a test started in its own session, and every worker it forked: ``first_signal``
    to the group, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if process.poll() is None:
        os.killpg(process.pid, first_signal)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
