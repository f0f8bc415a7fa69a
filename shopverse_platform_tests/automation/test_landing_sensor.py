"""The landing-zone sensor: exactly the days touched, a cursor that never repeats nor misses a file,
late files re-running old days (and weeks already built), files still being written waiting.

The first half drives the planner directly with a fixed clock; the second evaluates the real sensor
with Dagster's public ``build_sensor_context`` on the project's definitions.
"""

from __future__ import annotations

import gzip
import os
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest

from shopverse_platform.defs.resources import LandingZone
from shopverse_platform.lib.automation import landing_scan
from shopverse_platform.lib.ingestion import order_exports
from shopverse_platform.lib.automation.settings import (
    last_complete_day,
    last_complete_week,
)
from shopverse_platform_tests.automation.conftest import land

FIRST = date(2010, 12, 1)
TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc).timestamp()
D1, D2, D3 = date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19)


def _nothing_processed(_asset, _days):
    return {}


def _tick(root: Path, cursor: landing_scan.LandingCursor | None, now: float = NOW, processed_at=_nothing_processed,
          settle: float = 10) -> landing_scan.LandingPlan:
    snapshot = landing_scan.scan(root, root / "orders", now, settle)
    return landing_scan.plan(snapshot, cursor, last_complete=TODAY - timedelta(days=1), first_day=FIRST,
                             processed_at=processed_at, days_of_export=lambda key: order_exports.partition_days(Path(key)))


def _land_at(root: Path, day: date, name: str, seconds_before_now: float, layout: str = "events") -> Path:
    path = land(root, day, name, layout=layout)
    os.utime(path, (NOW - seconds_before_now, NOW - seconds_before_now))
    return path


def test_new_days_run_once_and_the_cursor_remembers_them(tmp_path):
    _land_at(tmp_path, D1, "a.ndjson", 3600)
    _land_at(tmp_path, D3, "a.json", 3600, layout="logs")  # the classic one-file-per-event layout
    first = _tick(tmp_path, landing_scan.LandingCursor())
    assert set(first.days_to_run) == {D1, D3}
    assert first.blocks() == [(D1, D1), (D3, D3)]  # not consecutive: two runs
    again = _tick(tmp_path, first.cursor)
    assert again.days_to_run == {}  # nothing processed twice
    restored = landing_scan.LandingCursor.from_json(first.cursor.to_json())
    assert _tick(tmp_path, restored).days_to_run == {}


def test_consecutive_days_make_one_range(tmp_path):
    for day in (D1, D2, D3):
        _land_at(tmp_path, day, "a.ndjson", 3600)
    assert _tick(tmp_path, landing_scan.LandingCursor()).blocks() == [(D1, D3)]


def test_late_and_changed_files_rerun_exactly_their_day(tmp_path):
    _land_at(tmp_path, D1, "a.ndjson", 7200)
    _land_at(tmp_path, D2, "a.ndjson", 7200)
    cursor = _tick(tmp_path, landing_scan.LandingCursor()).cursor
    _land_at(tmp_path, D1, "late.ndjson", 60)  # a late delivery for an old day
    plan = _tick(tmp_path, cursor)
    assert plan.days_to_run == {D1: "changed files"}
    cursor = plan.cursor
    changed = tmp_path / "events" / D2.isoformat() / "a.ndjson"
    changed.write_text(changed.read_text() + '{"event_id": "x"}\n')  # re-delivered in place
    os.utime(changed, (NOW - 30, NOW - 30))
    assert set(_tick(tmp_path, cursor).days_to_run) == {D2}


def test_removed_files_do_not_rerun(tmp_path):
    _land_at(tmp_path, D1, "a.ndjson", 7200)
    old = _land_at(tmp_path, D1, "b.ndjson", 7200)
    cursor = _tick(tmp_path, landing_scan.LandingCursor()).cursor
    old.unlink()  # archived: re-running would drop its events from the warehouse
    plan = _tick(tmp_path, cursor)
    assert plan.days_to_run == {} and plan.deletions_ignored == {D1}
    assert plan.cursor.days[D1.isoformat()] != cursor.days[D1.isoformat()]  # ...but it is now the known state
    (tmp_path / "events" / D1.isoformat() / "a.ndjson").unlink()
    assert _tick(tmp_path, plan.cursor).cursor.days == {}  # a day that is gone leaves the cursor


def test_a_file_still_being_written_waits_and_is_then_picked_up(tmp_path):
    _land_at(tmp_path, D1, "a.ndjson", 3600)
    cursor = _tick(tmp_path, landing_scan.LandingCursor()).cursor
    _land_at(tmp_path, D1, "b.ndjson", 2)  # modified 2 s ago, the settle time is 10 s
    waiting = _tick(tmp_path, cursor)
    assert waiting.days_to_run == {} and D1 in waiting.waiting
    assert waiting.cursor.days == cursor.days  # nothing recorded for it yet
    later = _tick(tmp_path, waiting.cursor, now=NOW + 30)
    assert set(later.days_to_run) == {D1}


def test_days_that_have_not_ended_wait_without_being_recorded(tmp_path):
    _land_at(tmp_path, TODAY, "a.ndjson", 3600)
    plan = _tick(tmp_path, landing_scan.LandingCursor())
    assert plan.days_to_run == {} and TODAY in plan.waiting and plan.cursor.days == {}
    # the next day, TODAY has ended and is new
    snapshot = landing_scan.scan(tmp_path, None, NOW + 86400, 10)
    tomorrow = landing_scan.plan(snapshot, plan.cursor, last_complete=TODAY, first_day=FIRST,
                                 processed_at=_nothing_processed, days_of_export=lambda key: set())
    assert set(tomorrow.days_to_run) == {TODAY}


def test_first_look_skips_days_processed_after_their_files_landed(tmp_path):
    _land_at(tmp_path, D1, "a.ndjson", 7200)
    _land_at(tmp_path, D2, "a.ndjson", 7200)
    _land_at(tmp_path, D3, "a.ndjson", 600)
    materialized = {D1: NOW - 3600, D3: NOW - 3600}  # D1 after its file, D3 before its file; D2 never

    def processed_at(asset, days):
        assert asset == "raw_events"
        return {d: t for d, t in materialized.items() if d in set(days)}

    plan = _tick(tmp_path, None, processed_at=processed_at)
    assert set(plan.days_to_run) == {D2, D3}
    assert set(plan.cursor.days) == {d.isoformat() for d in (D1, D2, D3)}


def test_order_exports_run_the_invoice_days_they_contain(tmp_path):
    orders = tmp_path / "orders"
    orders.mkdir()
    export = orders / "export.csv.gz"
    with gzip.open(export, "wt") as handle:
        handle.write("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                     "1,A,x,1,2026-11-17 10:00:00,1.0,7,UK\n1,B,y,1,11/19/2026 11:30,2.0,7,UK\n"
                     "2,C,z,1,2026-11-22 09:00:00,1.0,8,UK\n")  # the 22nd has not ended yet: left for later
    os.utime(export, (NOW - 600, NOW - 600))
    plan = _tick(tmp_path, landing_scan.LandingCursor())
    assert set(plan.days_to_run) == {D1, D3}
    assert plan.days_to_run[D1] == "order export export.csv.gz"
    assert _tick(tmp_path, plan.cursor).days_to_run == {}




def test_a_malformed_or_truncated_export_runs_the_days_ingestion_gives_its_lines(tmp_path):
    """A line with a field missing, an undated line, a gzip cut short, a file that is no export:
    the sensor plans the partitions the raw layer will write them to (so the run quarantines them
    or fails naming them) instead of failing on every tick and stopping all automatic runs."""
    orders = tmp_path / "orders"
    orders.mkdir()
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    malformed = orders / "late.csv"
    malformed.write_text(header + "1,A,x,1,2026-11-17 10:00:00,1.0,7,UK\n"
                         "2,B,y,1,2026-11-18 10:00:00,7,UK\n"  # 7 fields: quarantined on the file's earliest day
                         "3,C,z,1,2026-11-31 10:00,1.0,8,UK\n")  # no 31 November: the same
    truncated = orders / "cut.csv.gz"
    whole = gzip.compress((header + "4,D,w,1,2026-11-18 09:00:00,1.0,9,UK\n" * 2000).encode())
    truncated.write_bytes(whole[: len(whole) // 2])  # unreadable: one record line on its modification day
    not_an_export = orders / "notes.csv"
    not_an_export.write_text("day,remark\n2026-11-17,stocktake\n")  # the run over its day fails naming it
    os.utime(malformed, (NOW - 600, NOW - 600))
    os.utime(truncated, (NOW - 3 * 86400, NOW - 3 * 86400))  # modified on the 18th
    os.utime(not_an_export, (NOW - 2 * 86400, NOW - 2 * 86400))  # the 19th
    assert order_exports.partition_days(malformed) == {D1}
    assert order_exports.partition_days(truncated) == {D2}
    assert order_exports.partition_days(not_an_export) == {D3}
    assert order_exports.partition_days(orders / "gone.csv") == set()
    plan = _tick(tmp_path, landing_scan.LandingCursor())
    assert plan.days_to_run == {D1: "order export late.csv", D2: "order export cut.csv.gz",
                                D3: "order export notes.csv"}
# ------------------------------------------------------------------------------ the real sensor
def _evaluate(definitions, instance, cursor=None) -> dg.SensorResult:
    sensor = definitions.resolve_sensor_def("landing_zone_sensor")
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions,
                                 resources={"landing_zone": LandingZone()}) as context:
        return sensor(context)


@pytest.fixture
def landing(tmp_path) -> Path:
    return tmp_path / "data" / "landing"  # where LandingZone() points under the test's SHOPVERSE_DATA_DIR


def test_sensor_requests_the_touched_days_and_keeps_its_cursor(definitions, landing):
    sensor = definitions.resolve_sensor_def("landing_zone_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING and sensor.minimum_interval_seconds == 30
    yesterday = last_complete_day(datetime.now(timezone.utc))
    days = [yesterday - timedelta(days=8), yesterday - timedelta(days=4), yesterday - timedelta(days=3)]
    for day in days:
        land(landing, day)
    with dg.instance_for_test() as instance:
        first = _evaluate(definitions, instance)
        requests = {(r.partition_key, r.tags.get("dagster/asset_partition_range_start"),
                     r.tags.get("dagster/asset_partition_range_end")) for r in first.run_requests}
        assert requests == {
            (days[0].isoformat(), None, None),
            (None, days[1].isoformat(), days[2].isoformat()),  # two consecutive days: one range run
        }
        assert all(r.job_name == "daily_job" for r in first.run_requests)

        second = _evaluate(definitions, instance, first.cursor)
        assert not second.run_requests and "no new or changed landing files" in second.skip_reason.skip_message

        land(landing, days[0], "late.ndjson")  # a late file for an old day
        third = _evaluate(definitions, instance, second.cursor)
        assert [r.partition_key for r in third.run_requests] == [days[0].isoformat()]
        assert third.run_requests[0].run_key not in {r.run_key for r in first.run_requests}

        land(landing, yesterday + timedelta(days=1), age_seconds=3600)  # today: no full run before its end
        today = _evaluate(definitions, instance, third.cursor)
        # (before the freshness path: no request at all) only today's freshness run, no daily_job
        assert [(r.job_name, r.partition_key) for r in today.run_requests] == [
            ("freshness_job", (yesterday + timedelta(days=1)).isoformat())]


def test_late_file_in_a_week_already_built_reruns_its_weekly_rollups(definitions, landing):
    now = datetime.now(timezone.utc)
    week = last_complete_week(now) - timedelta(days=7)
    day = week + timedelta(days=2)
    land(landing, day)
    with dg.instance_for_test() as instance:
        cursor = _evaluate(definitions, instance).cursor
        land(landing, day, "late.ndjson")
        unbuilt = _evaluate(definitions, instance, cursor)
        assert [r.job_name for r in unbuilt.run_requests] == ["daily_job"]  # that week was never built

        instance.report_runless_asset_event(dg.AssetMaterialization("weekly_kpis", partition=week.isoformat()))
        land(landing, day, "later.ndjson")
        result = _evaluate(definitions, instance, unbuilt.cursor)
        daily, weekly = result.run_requests
        assert (daily.job_name, daily.partition_key) == ("daily_job", day.isoformat())
        assert (weekly.job_name, weekly.partition_key) == ("weekly_job", week.isoformat())
        selected = {k.to_user_string() for k in weekly.asset_selection}
        assert {"weekly_kpis", "weekly_report"} <= selected  # the weekly rollups...
        graph = definitions.resolve_asset_graph()
        assert all(isinstance(graph.get(k).partitions_def, dg.WeeklyPartitionsDefinition) for k in weekly.asset_selection)


def test_first_look_with_days_already_built_requests_only_the_rest(definitions, landing):
    yesterday = last_complete_day(datetime.now(timezone.utc))
    built, fresh = yesterday - timedelta(days=6), yesterday - timedelta(days=2)
    land(landing, built, age_seconds=7200)
    land(landing, fresh, age_seconds=7200)
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization("raw_events", partition=built.isoformat()))
        result = _evaluate(definitions, instance)
        assert [r.partition_key for r in result.run_requests] == [fresh.isoformat()]
        assert built.isoformat() in landing_scan.LandingCursor.from_json(result.cursor).days


def test_scan_cost_stays_small_for_the_one_file_per_event_layout(tmp_path):
    day = date(2026, 11, 17)
    folder = tmp_path / "logs" / day.strftime("%Y%m%d")
    folder.mkdir(parents=True)
    for i in range(5000):
        (folder / f"{i:05d}.json").write_text("{}")
    snapshot = landing_scan.scan(tmp_path, None, time.time() + 60, 10)
    assert snapshot.days[day].count == 5000
    cursor = landing_scan.plan(snapshot, landing_scan.LandingCursor(), last_complete=TODAY, first_day=FIRST,
                               processed_at=_nothing_processed, days_of_export=lambda key: set()).cursor
    assert len(cursor.to_json()) < 200  # one token per day, not one entry per file


def test_a_failing_sensor_raises_one_alert_per_distinct_error(definitions, landing, tmp_path, monkeypatch):
    """A sensor that raises starts no run, so no run-failure alert says that nothing runs any more:
    the sensor's own failure is alerted (log, table, webhook), once per distinct error, not every 30 s."""
    log = tmp_path / "data" / "alerts" / "alerts.log"
    real_scan = landing_scan.scan

    def broken(*args, **kwargs):
        raise PermissionError("[Errno 13] Permission denied: 'landing/events/2026-11-17'")

    monkeypatch.setattr(landing_scan, "scan", broken)
    with dg.instance_for_test() as instance:
        for _ in range(2):
            with pytest.raises(Exception, match="Permission denied"):
                _evaluate(definitions, instance)
        lines = log.read_text().splitlines()
        assert len(lines) == 1 and "sensor_failure" in lines[0] and "job=landing_zone_sensor" in lines[0]
        assert "PermissionError" in lines[0]
        monkeypatch.setattr(landing_scan, "scan", real_scan)
        _evaluate(definitions, instance)  # working again
        monkeypatch.setattr(landing_scan, "scan", broken)
        with pytest.raises(Exception, match="Permission denied"):
            _evaluate(definitions, instance)
        assert len(log.read_text().splitlines()) == 2  # failing again after a good tick: alerted again
