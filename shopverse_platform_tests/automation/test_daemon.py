"""A real `dagster-daemon` on a temporary instance with the project's dagster.yaml: landing files for
two separate days are picked up by the landing-zone sensor, which asks for two runs at once; the
run queue lets one write the warehouse at a time and both succeed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from shopverse_platform.lib.automation import landing_scan
from shopverse_platform.lib.automation.settings import last_complete_day
from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform.lib.simulator.traffic import simulate
from shopverse_platform_tests.conftest import stop_process_group

pytestmark = pytest.mark.services
TIMEOUT = 240


def _deliver(staging: Path, landing: Path, day) -> None:
    """Simulate a day elsewhere, then move its folder into the landing zone in one rename, with a
    modification time older than the sensor's settle time (a finished delivery)."""
    simulate(staging, users=300, days=1, start=day, seed=11, faults=0.0)
    past = time.time() - 120
    for path in (staging / "events" / day.isoformat()).iterdir():
        os.utime(path, (past, past))
    (landing / "events").mkdir(parents=True, exist_ok=True)
    for extra in ("catalogue", "customers"):
        if (staging / extra).exists() and not (landing / extra).exists():
            shutil.copytree(staging / extra, landing / extra)
    (staging / "events" / day.isoformat()).rename(landing / "events" / day.isoformat())


@dataclass(frozen=True)
class DaemonStack:
    """A temporary Dagster instance with the project's dagster.yaml, a workspace loading the
    definitions, landing files for two separate days, and the environment a daemon runs in."""

    work: Path
    workspace: Path
    env: dict[str, str]
    days: list

    @classmethod
    def prepare(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deliver: bool = True) -> DaemonStack:
        """``deliver``: the two past days' landing files (without: an empty landing zone)."""
        home, data, work = tmp_path / "dagster_home", tmp_path / "data", tmp_path / "work"
        work.mkdir()
        shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")  # the settings the project ships
        workspace = tmp_path / "workspace.yaml"
        workspace.write_text(
            "load_from:\n  - python_module:\n      module_name: shopverse_platform.definitions\n"
            f"      working_directory: {work}\n      location_name: shopverse_platform\n"
            f"      executable_path: {sys.executable}\n"
        )
        yesterday = last_complete_day(datetime.now(timezone.utc))
        days = [yesterday - timedelta(days=5), yesterday - timedelta(days=2)]  # not consecutive: two runs
        for day in days if deliver else []:
            _deliver(tmp_path / "staging", data / "landing", day)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPVERSE_", "OPENLINEAGE_", "MLFLOW_"))}
        env.update({"DAGSTER_HOME": str(home), "SHOPVERSE_DATA_DIR": str(data),
                    "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PYTHONUNBUFFERED": "1"})
        # Create the instance's SQLite storage before the daemon starts: two processes initialising a
        # fresh DAGSTER_HOME at once race on CREATE TABLE ("table runs already exists").
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        dg.DagsterInstance.get().dispose()
        return cls(work, workspace, env, days)

    def start(self, log) -> subprocess.Popen:
        """A `dagster-daemon` on the workspace, in its own process group, writing to ``log``."""
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(self.workspace)],
            cwd=self.work, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )


def _failures(instance: dg.DagsterInstance, runs) -> str:
    """The step errors of the runs, for the assertion message."""
    lines = []
    for record in runs:
        for entry in instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
            error = entry.dagster_event.step_failure_data.error
            lines.append(f"{record.dagster_run.run_id[:8]} {entry.dagster_event.step_key}: {error.to_string()[-1500:]}")
    return "\n".join(lines)


def test_daemon_runs_landing_files_one_writer_at_a_time(tmp_path, monkeypatch):
    stack = DaemonStack.prepare(tmp_path, monkeypatch)
    days, data = stack.days, tmp_path / "data"
    log = (tmp_path / "daemon.log").open("w")
    daemon = stack.start(log)
    try:
        with dg.DagsterInstance.get() as instance:
            deadline = time.monotonic() + TIMEOUT
            runs: list = []
            while time.monotonic() < deadline:
                assert daemon.poll() is None, "dagster-daemon exited:\n" + (tmp_path / "daemon.log").read_text()[-4000:]
                runs = instance.get_run_records(dg.RunsFilter(tags={"shopverse/trigger": "landing_zone_sensor"}))
                if len(runs) == 2 and all(r.dagster_run.is_finished for r in runs):
                    break
                time.sleep(2)
            else:
                pytest.fail(f"no two finished runs within {TIMEOUT}s: {[(r.dagster_run.run_id, r.dagster_run.status) for r in runs]}\n"
                            + (tmp_path / "daemon.log").read_text()[-4000:])

            assert {r.dagster_run.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}, _failures(instance, runs)
            assert sorted(r.dagster_run.tags["dagster/partition"] for r in runs) == [d.isoformat() for d in days]
            first, second = sorted(runs, key=lambda r: r.start_time)
            assert abs(first.create_timestamp.timestamp() - second.create_timestamp.timestamp()) < 10  # asked at once
            assert first.end_time <= second.start_time  # ...and run one after the other
            assert all(r.dagster_run.job_name == "daily_job" for r in runs)

            # a later tick looked again and asked for nothing more: processed once
            state = next(s for s in instance.all_instigator_state() if s.name == "landing_zone_sensor")
            while True:
                ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=20)
                requested = [t for t in ticks if t.status.value == "SUCCESS"]
                if requested and any(t.status.value == "SKIPPED" and t.timestamp > requested[0].timestamp for t in ticks):
                    break
                assert time.monotonic() < deadline + 60, [(t.status, t.timestamp) for t in ticks]
                time.sleep(2)
            assert len(requested) == 1 and len(instance.get_runs(dg.RunsFilter(tags={"shopverse/trigger": "landing_zone_sensor"}))) == 2
            state = next(s for s in instance.all_instigator_state() if s.name == "landing_zone_sensor")
            cursor = landing_scan.LandingCursor.from_json(state.instigator_data.cursor)
            assert set(cursor.days) == {d.isoformat() for d in days}
            failed = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
            assert not failed, [(r.job_name, r.run_id) for r in failed]
    finally:
        stop_process_group(daemon, timeout=30)
        log.close()

    con = duckdb.connect(str(data / "warehouse" / "shopverse.duckdb"), read_only=True)
    loaded = {row[0] for row in con.execute("SELECT DISTINCT partition_date FROM raw_events").fetchall()}
    con.close()
    assert loaded == set(days)
    assert all((data / "reports" / "daily" / f"{d.isoformat()}.html").exists() for d in days)


def _collector_batch(landing: Path, number: int, events: int) -> Path:
    """A collector batch of today, as the collector rolls it: written hidden, renamed into place,
    events stamped minutes ago, a purchase among them; modified long enough ago to be settled."""
    now = datetime.now(timezone.utc)
    folder = landing / "events" / now.date().isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    when = max(now - timedelta(minutes=5), datetime.combine(now.date(), datetime.min.time(), timezone.utc))
    lines = []
    for k in range(events):
        body = {"event_id": f"live-{number}-{k}", "event_name": "page_view", "anonymous_id": f"dev-{number}-{k % 5}",
                "session_id": f"s-{number}-{k % 5}", "event_time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "device": "mobile", "country": "GB", "page": "/"}
        if k == 0:
            body.update(event_name="purchase", transaction_id=f"T-live-{number}", value=10.0, currency="GBP",
                        items=[{"item_id": "P1", "item_name": "Mug", "item_category": "Kitchen", "price": 10.0, "quantity": 1}])
        lines.append(json.dumps(body))
    hidden = folder / f".collector-{number}.open"
    hidden.write_text("\n".join(lines) + "\n")
    past = time.time() - 60
    os.utime(hidden, (past, past))
    final = folder / f"collector-{now:%Y%m%dT%H%M%S%f}-test-{os.getpid()}-{number}.ndjson"
    hidden.rename(final)
    return final


def _wait_for(instance: dg.DagsterInstance, daemon, log_path: Path, count: int, deadline: float) -> list:
    """The freshness runs, once ``count`` of them have succeeded."""
    runs: list = []
    while time.monotonic() < deadline:
        assert daemon.poll() is None, "dagster-daemon exited:\n" + log_path.read_text()[-4000:]
        runs = instance.get_run_records(dg.RunsFilter(job_name="freshness_job"))
        failed = [r for r in runs if r.dagster_run.status == dg.DagsterRunStatus.FAILURE]
        assert not failed, _failures(instance, failed)
        if sum(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in runs) >= count:
            return runs
        time.sleep(2)
    pytest.fail(f"no {count} successful freshness runs in time: {[(r.dagster_run.run_id, r.dagster_run.status) for r in runs]}\n"
                + log_path.read_text()[-4000:])


def _today_rows(data: Path, today) -> tuple[int, int]:
    con = duckdb.connect(str(data / "warehouse" / "shopverse.duckdb"), read_only=True)
    try:
        clean = con.execute("SELECT count(*) FROM clean_events WHERE partition_date = ?", [today]).fetchone()[0]
        sessions = con.execute("SELECT sum(sessions) FROM daily_traffic WHERE traffic_date = ?", [today]).fetchone()[0]
    finally:
        con.close()
    return clean, sessions


def test_daemon_refreshes_todays_tables_from_collector_files_before_the_day_ends(tmp_path, monkeypatch):
    """Collector batches land in today's folder: the landing sensor starts freshness runs and today's
    clean_events and daily metrics hold them minutes later, the second batch appended; no daily_job
    and no whole-history rebuild for today."""
    stack = DaemonStack.prepare(tmp_path, monkeypatch)
    data, log_path = tmp_path / "data", tmp_path / "daemon.log"
    today = datetime.now(timezone.utc).date()
    _collector_batch(data / "landing", 1, 40)
    log = log_path.open("w")
    daemon = stack.start(log)
    try:
        with dg.DagsterInstance.get() as instance:
            deadline = time.monotonic() + TIMEOUT + 120
            runs = _wait_for(instance, daemon, log_path, 1, deadline)
            assert {r.dagster_run.tags["dagster/partition"] for r in runs} == {today.isoformat()}
            assert {r.dagster_run.tags["shopverse/trigger"] for r in runs} == {"freshness"}
            if today == datetime.now(timezone.utc).date():  # not across midnight
                assert _today_rows(data, today) == (40, 5)

                _collector_batch(data / "landing", 2, 30)
                _wait_for(instance, daemon, log_path, 2, deadline)
                assert _today_rows(data, today) == (70, 10)
                latest = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey("clean_events"), asset_partitions=[today.isoformat()]),
                    limit=1).records[0]
                assert latest.asset_materialization.metadata["mode"].value == "incremental (1 new files)"
                daily = instance.get_runs(dg.RunsFilter(job_name="daily_job", tags={"dagster/partition": today.isoformat()}))
                assert not daily  # the day's full run waits for its end
                automation = instance.get_runs(dg.RunsFilter(tags={"shopverse/trigger": "automation_sensor"}))
                assert not automation  # freshness runs do not rebuild the whole-history tables
    finally:
        stop_process_group(daemon, timeout=30)
        log.close()
