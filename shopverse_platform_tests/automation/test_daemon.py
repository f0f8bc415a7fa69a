"""A real `dagster-daemon` on a temporary instance with the project's dagster.yaml: landing files for
two separate days are picked up by the landing-zone sensor, which asks for two runs at once; the
run queue lets one write the warehouse at a time and both succeed.
"""

from __future__ import annotations

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
    def prepare(cls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DaemonStack:
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
        for day in days:
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
