"""The landing-zone sensor's freshness path: new settled files of the day in progress start a
freshness run of that day (at most one per interval, never two in flight); the day's full daily
run still comes once the day has ended."""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest

from shopverse_platform.defs.automation.schedules import run_covering_day
from shopverse_platform.defs.automation.sensors import build_landing_zone_sensor
from shopverse_platform.defs.resources import LandingZone
from shopverse_platform.lib.automation import landing_scan
from shopverse_platform.lib.automation.settings import AutomationSettings
from shopverse_platform_tests.automation.conftest import land

FIRST = date(2010, 12, 1)
TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc).timestamp()


def _land_at(root: Path, day: date, name: str, seconds_before: float, now: float = NOW) -> Path:
    path = land(root, day, name)
    os.utime(path, (now - seconds_before, now - seconds_before))
    return path


def _fresh(root: Path, fresh: dict[str, str], now: float = NOW, interval: float = 60,
           today: date = TODAY) -> landing_scan.FreshnessPlan:
    snapshot = landing_scan.scan(root, None, now, 10)
    return landing_scan.freshness_plan(snapshot, fresh, last_complete=today - timedelta(days=1), first_day=FIRST,
                                       now=now, interval_seconds=interval)


# ------------------------------------------------------------------------------ the rules
def test_new_files_of_today_are_due_once_per_state(tmp_path):
    _land_at(tmp_path, TODAY, "collector-1.ndjson", 30)
    _land_at(tmp_path, TODAY - timedelta(days=3), "old.ndjson", 3600)  # an ended day: not the freshness path's
    _land_at(tmp_path, TODAY + timedelta(days=1), "ahead.ndjson", 3600)  # a clock ahead: no partition yet
    plan = _fresh(tmp_path, {})
    assert set(plan.due) == {TODAY}
    fresh = plan.cursor([TODAY], NOW)
    assert _fresh(tmp_path, fresh, NOW + 30).due == {}  # nothing new: nothing due

    _land_at(tmp_path, TODAY, "collector-2.ndjson", 20, NOW + 30)
    soon = _fresh(tmp_path, fresh, NOW + 30)  # 30 s after the last request, interval 60 s
    assert soon.due == {} and soon.too_soon == {TODAY}
    assert soon.cursor([], NOW + 30) == fresh  # waits with its entry unchanged
    later = _fresh(tmp_path, fresh, NOW + 61)
    assert set(later.due) == {TODAY} and later.due[TODAY] != plan.due[TODAY]
    assert _fresh(tmp_path, fresh, NOW + 30, interval=0).due.keys() == {TODAY}  # interval 0: at once


def test_a_file_still_being_written_waits(tmp_path):
    _land_at(tmp_path, TODAY, "collector-1.ndjson", 3)  # within the settle time
    assert _fresh(tmp_path, {}).due == {}


def test_a_due_day_not_requested_keeps_its_entry_and_stays_due(tmp_path):
    _land_at(tmp_path, TODAY, "collector-1.ndjson", 300)
    fresh = _fresh(tmp_path, {}).cursor([TODAY], NOW - 200)
    _land_at(tmp_path, TODAY, "collector-2.ndjson", 30)
    plan = _fresh(tmp_path, fresh)
    assert set(plan.due) == {TODAY}
    kept = plan.cursor([], NOW)  # a run of today still in flight: not requested
    assert kept == fresh and set(_fresh(tmp_path, kept).due) == {TODAY}


def test_once_the_day_has_ended_its_entry_goes_and_the_full_run_comes(tmp_path):
    _land_at(tmp_path, TODAY, "collector-1.ndjson", 300)
    fresh = _fresh(tmp_path, {}).cursor([TODAY], NOW)
    tomorrow = NOW + 86400
    assert _fresh(tmp_path, fresh, tomorrow, today=TODAY + timedelta(days=1)).cursor([], tomorrow) == {}
    snapshot = landing_scan.scan(tmp_path, None, tomorrow, 10)
    full = landing_scan.plan(snapshot, landing_scan.LandingCursor(fresh=fresh), last_complete=TODAY,
                             first_day=FIRST, processed_at=lambda *_: {}, days_of_export=lambda _: set())
    assert set(full.days_to_run) == {TODAY}  # the freshness runs did not count as the day's run


def test_the_cursor_without_freshness_entries_reads_and_writes_as_before():
    old = '{"days":{"2026-11-20":"x:1:2"},"exports":{},"v":1}'
    cursor = landing_scan.LandingCursor.from_json(old)
    assert cursor.fresh == {} and cursor.to_json() == old
    cursor.fresh = {"2026-11-21": "t@1.000"}
    assert landing_scan.LandingCursor.from_json(cursor.to_json()) == cursor


# ------------------------------------------------------------------------------ the real sensor
@pytest.fixture
def landing(tmp_path) -> Path:
    return tmp_path / "data" / "landing"  # where LandingZone() points under the test's SHOPVERSE_DATA_DIR


def _evaluate(sensor, instance, cursor=None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing_zone": LandingZone()}) as context:
        return sensor(context)


def _jobs(result: dg.SensorResult) -> list[tuple[str, str | None, str]]:
    return [(r.job_name, r.partition_key, r.tags.get("shopverse/trigger")) for r in result.run_requests]


def test_sensor_requests_freshness_runs_for_today_one_in_flight_then_the_full_run(landing):
    sensor = build_landing_zone_sensor(AutomationSettings(freshness_interval_seconds=0))
    today = datetime.now(timezone.utc).date()
    land(landing, today, "collector-1.ndjson", age_seconds=60)
    with dg.instance_for_test() as instance:
        first = _evaluate(sensor, instance)
        assert _jobs(first) == [("freshness_job", today.isoformat(), "freshness")]
        assert not _evaluate(sensor, instance, first.cursor).run_requests  # nothing new

        noop = dg.Definitions(jobs=[dg.JobDefinition(graph_def=dg.GraphDefinition(name="freshness_job"))])
        run = instance.create_run_for_job(noop.resolve_job_def("freshness_job"),
                                          tags={"dagster/partition": today.isoformat()})
        assert run.status == dg.DagsterRunStatus.NOT_STARTED
        yesterday = today - timedelta(days=1)
        late = instance.create_run_for_job(noop.resolve_job_def("freshness_job"),
                                           tags={"dagster/partition": yesterday.isoformat()})
        assert late.status == dg.DagsterRunStatus.NOT_STARTED
        assert run_covering_day(instance, yesterday) is None  # never taken by the schedule for the day's full run
        land(landing, today, "collector-2.ndjson", age_seconds=30)
        busy = _evaluate(sensor, instance, first.cursor)
        assert not busy.run_requests  # one freshness run of the day in flight: the next waits for it
        instance.report_run_failed(run)
        again = _evaluate(sensor, instance, busy.cursor)
        assert _jobs(again) == [("freshness_job", today.isoformat(), "freshness")]
        assert again.run_requests[0].run_key != first.run_requests[0].run_key

    # the next day: the day's full daily_job, although freshness runs covered every file of it
    cursor = landing_scan.LandingCursor.from_json(again.cursor)
    snapshot = landing_scan.scan(landing, None, time.time() + 86400, 10)
    plan = landing_scan.plan(snapshot, cursor, last_complete=today, first_day=FIRST,
                             processed_at=lambda *_: {}, days_of_export=lambda _: set())
    assert set(plan.days_to_run) == {today}
