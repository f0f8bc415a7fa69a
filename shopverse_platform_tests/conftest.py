"""Shared fixtures: a temporary warehouse, landing zone and Dagster instance per test; commands of
subprocess tests started in the background when the session starts."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.paths import shared_data_dir

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


ISOLATED_UNSET = ("SHOPVERSE_WAREHOUSE", "SHOPVERSE_WAREHOUSE_NAME", "SHOPVERSE_LANDING_DIR", "SHOPVERSE_ORDER_EXPORTS", "OPENLINEAGE_URL", "MLFLOW_TRACKING_URI",
                  "SHOPVERSE_QUALITY_WARN_SHARE", "SHOPVERSE_QUALITY_FAIL_SHARE", "SHOPVERSE_QUALITY_REASON_SHARES",
                  "SHOPVERSE_QUALITY_VOLUME_FACTOR", "SHOPVERSE_QUALITY_VOLUME_WEEKS",
                  "SHOPVERSE_REPORTING_CURRENCY", "SHOPVERSE_EXCHANGE_RATES", "SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS",
                  "SHOPVERSE_ORDER_EXPORT_CURRENCY")


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test may touch the developer's data/ or Dagster home."""
    monkeypatch.setenv("SHOPVERSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    for name in ISOLATED_UNSET:
        monkeypatch.delenv(name, raising=False)
    yield
    # A lake process keeps each of its SQLite catalogs open through a process of its own
    # (lib/warehouse/lake.py, keep_catalog_open; ~15 MB each). Tests leave their lake instances to
    # the session, which would gather one keeper per test's lake: each ends with its test.
    from shopverse_platform.lib.warehouse.lake import end_catalog_keepers

    end_catalog_keepers()


@pytest.fixture
def hostile_feed(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests whose hand-written feed is mostly bad lines on purpose (one per cleaning rule): the
    input-quality gate would rightly fail such a day and block what the test is about, so its
    failure share is lifted to 100 %. The gate itself is tested in cleaning/test_input_quality.py."""
    monkeypatch.setenv("SHOPVERSE_QUALITY_FAIL_SHARE", "1")


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


def warehouse_setting(tmp_path: Path, layout: str) -> str:
    """``SHOPVERSE_WAREHOUSE`` for a test parametrized over the two layouts: a DuckDB file
    (``layout="file"``), else a DuckLake with a SQLite catalog, both under ``tmp_path``."""
    return str(tmp_path / "w.duckdb") if layout == "file" else f"ducklake:sqlite:{tmp_path / 'lake' / 'w.sqlite'}"


def column_comments(con, tables) -> dict[tuple[str, str], str | None]:
    """(table, column) -> the column's comment, for the warehouse tables ``tables``, as
    ``duckdb_columns()`` lists them (an absent table has no entry)."""
    return {(table, column): comment for table, column, comment in con.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE database_name = current_database() "
        "AND list_contains(?, table_name)", [list(tables)]).fetchall()}


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


# Commands of subprocess tests, run in the background. A test that only starts a command and waits
# for it (the Dagster CLI, dg) leaves pytest's process idle for seconds; started when the session
# starts, one after the other on a thread, the commands run beside the in-process tests (which keep
# mostly one core busy) and are usually done when their test comes. The command, its environment and
# every assertion on its result stay the test's own; only the moment it starts moves.


@dataclass(frozen=True)
class Command:
    """A command for ``@pytest.mark.background_command(Command(...))``. It runs with the environment
    a test gets from ``_isolated_environment`` (its own ``data`` and empty ``dagster_home``) in
    ``cwd``, else in the directory pytest started in."""

    args: list[str]
    cwd: Path | None = None
    timeout: float = 300


@dataclass
class Finished:
    """A background command once it has ended: its result and the directory it ran in."""

    result: subprocess.CompletedProcess
    workdir: Path


@dataclass
class _Job:
    command: Command
    workdir: Path
    cwd: Path
    env: dict[str, str]
    done: threading.Event = field(default_factory=threading.Event)
    process: subprocess.Popen | None = None
    finished: Finished | None = None
    error: BaseException | None = None


def pytest_configure(config: pytest.Config) -> None:
    # Test modules import the definitions while they are collected, before any fixture runs, and the
    # partitions start where the data directory's shop.toml says: a developer's data/ (after `make
    # demo`) would move them and fail the tests that compare partitions. Collection reads an empty one.
    collection_data = tempfile.mkdtemp(prefix="shopverse-tests-data-")
    os.environ["SHOPVERSE_DATA_DIR"] = collection_data
    atexit.register(shutil.rmtree, collection_data, ignore_errors=True)
    config.addinivalue_line(
        "markers", "background_command(command): the test's Command starts in the background when the session "
        "starts; the test reads its result through the background_command fixture")


def _run(job: _Job) -> None:
    command = job.command
    try:
        job.process = subprocess.Popen(
            command.args, cwd=command.cwd or job.cwd, env=job.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        try:
            stdout, stderr = job.process.communicate(timeout=command.timeout)
        except subprocess.TimeoutExpired:
            stop_process_group(job.process, timeout=10)
            raise
        job.finished = Finished(subprocess.CompletedProcess(command.args, job.process.returncode, stdout, stderr), job.workdir)
    except BaseException as error:  # noqa: BLE001 - handed to the test, which raises it
        job.error = error
    finally:
        job.done.set()


@pytest.fixture(scope="session", autouse=True)
def _background_commands(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, _Job]]:
    """Start the commands of the selected tests marked ``background_command``, one at a time, in
    test order; stop any still running (by process group) when the session ends."""
    jobs: dict[str, _Job] = {}
    # read now: a test running while a command starts may have changed both for itself
    cwd, environment = Path.cwd(), {k: v for k, v in os.environ.items() if k not in ISOLATED_UNSET}
    for item in request.session.items:
        marker = item.get_closest_marker("background_command")
        if marker is None:
            continue
        workdir = tmp_path_factory.mktemp("background")
        (workdir / "dagster_home").mkdir()
        env = {**environment, "SHOPVERSE_DATA_DIR": str(workdir / "data"), "DAGSTER_HOME": str(workdir / "dagster_home")}
        jobs[item.nodeid] = _Job(marker.args[0], workdir, cwd, env)
    stopping = threading.Event()

    def run_all() -> None:
        for job in jobs.values():
            if stopping.is_set():
                job.error = RuntimeError("the session ended before this command started")
                job.done.set()
                continue
            _run(job)

    runner = threading.Thread(target=run_all, name="background-commands", daemon=True)
    if jobs:
        runner.start()
    yield jobs
    stopping.set()
    while runner.is_alive():  # only when the session ends early: stop what still runs
        for job in jobs.values():
            if job.process is not None and job.process.poll() is None:
                stop_process_group(job.process, timeout=10)
        runner.join(timeout=1)


@pytest.fixture
def background_command(request: pytest.FixtureRequest, _background_commands: dict[str, _Job],
                       monkeypatch: pytest.MonkeyPatch) -> Finished:
    """The finished command of this test (waits for it). The test's environment then points where the
    command's did (``SHOPVERSE_DATA_DIR``, ``DAGSTER_HOME``), so it reads what the command wrote."""
    job = _background_commands[request.node.nodeid]
    job.done.wait()
    if job.error is not None:
        raise job.error
    monkeypatch.setenv("SHOPVERSE_DATA_DIR", str(job.workdir / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(job.workdir / "dagster_home"))
    return job.finished


# Headless Chromium as root in a container: no sandbox, no GPU, no background traffic. One browser
# per test module, for the UI screenshots and the demo shop's tests alike.
CHROMIUM = os.environ.get("SHOPVERSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no browser at {CHROMIUM}: run scripts/install_browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
