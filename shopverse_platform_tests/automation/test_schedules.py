"""Schedules evaluated with Dagster's public schedule context: the right partition at each tick,
in any time zone, and a day already handled by the landing-zone sensor is skipped."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from shopverse_platform.defs.automation.schedules import (
    build_daily_schedule,
    build_integrity_schedule,
    build_weekly_schedule,
)
from shopverse_platform.defs.partitions import daily_partitions, weekly_partitions
from shopverse_platform.lib.automation.settings import AutomationSettings

UTC = timezone.utc


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def _tick(schedule: dg.ScheduleDefinition, when: datetime, instance: dg.DagsterInstance):
    """Invoke the schedule as the daemon would at ``when``: a RunRequest or a SkipReason."""
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=when) as context:
        return schedule(context)


def _partition(schedule, when, instance) -> str:
    result = _tick(schedule, when, instance)
    assert isinstance(result, dg.RunRequest), result
    return result.partition_key


def test_default_schedules_are_on_and_at_the_documented_times(definitions):
    daily = definitions.resolve_schedule_def("daily_schedule")
    weekly = definitions.resolve_schedule_def("weekly_schedule")
    assert (daily.cron_schedule, daily.execution_timezone) == ("0 2 * * *", "UTC")
    assert (weekly.cron_schedule, weekly.execution_timezone) == ("0 4 * * 1", "UTC")
    assert daily.default_status == weekly.default_status == dg.DefaultScheduleStatus.RUNNING
    assert daily.job_name == "daily_job" and weekly.job_name == "weekly_job"
    assert daily.description and weekly.description


@pytest.mark.parametrize(
    ("zone", "local", "expected_day"),
    [
        ("UTC", datetime(2026, 11, 21, 2, 0), "2026-11-20"),
        # 02:00 in Los Angeles is 10:00 UTC: the last UTC day that has ended is still the 20th
        ("America/Los_Angeles", datetime(2026, 11, 21, 2, 0), "2026-11-20"),
        # 00:30 in Berlin (winter, UTC+1) is 23:30 UTC on the 20th: only the 19th has ended
        ("Europe/Berlin", datetime(2026, 11, 21, 0, 30), "2026-11-19"),
        # 02:00 in Auckland (UTC+13 in November) is 13:00 UTC on the 20th
        ("Pacific/Auckland", datetime(2026, 11, 21, 2, 0), "2026-11-19"),
    ],
)
def test_daily_schedule_runs_the_last_utc_day_that_has_ended(zone, local, expected_day, instance):
    settings = AutomationSettings(timezone=zone, daily_at=local.time())
    schedule = build_daily_schedule(settings)
    assert schedule.execution_timezone == zone
    assert schedule.cron_schedule == f"{local.minute} {local.hour} * * *"
    when = local.replace(tzinfo=ZoneInfo(zone))
    assert _partition(schedule, when, instance) == expected_day
    # the same answer from Dagster's own partition arithmetic: the partitions end with the UTC day
    # in progress (end_offset=1, for the freshness path), the day before it is the last that has ended
    keys = daily_partitions.get_partition_keys(current_time=when)
    assert keys[-2] == expected_day
    assert keys[-1] == when.astimezone(UTC).date().isoformat()


@pytest.mark.parametrize(
    ("when", "expected_week"),
    [
        (datetime(2026, 11, 23, 4, 0, tzinfo=UTC), "2026-11-16"),  # Monday morning: the week just ended
        (datetime(2026, 11, 22, 23, 0, tzinfo=UTC), "2026-11-09"),  # Sunday night: that week has not ended
    ],
)
def test_weekly_schedule_runs_the_last_week_that_has_ended(when, expected_week, instance):
    assert _partition(build_weekly_schedule(AutomationSettings()), when, instance) == expected_week
    assert weekly_partitions.get_partition_keys(current_time=when)[-1] == expected_week


def test_integrity_schedule_asks_for_the_whole_table_check_once_a_week(definitions, instance):
    schedule = definitions.resolve_schedule_def("integrity_schedule")
    assert (schedule.cron_schedule, schedule.job_name) == ("0 4 * * 1", "integrity_job")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    request = _tick(build_integrity_schedule(AutomationSettings()), datetime(2026, 11, 23, 4, 0, tzinfo=UTC), instance)
    # no partition: the check then looks at the whole table; one run per week (its key)
    assert isinstance(request, dg.RunRequest) and request.partition_key is None and request.run_key == "2026-11-16"
    job = definitions.resolve_job_def("integrity_job")
    assert job.partitions_def is None
    assert [node.name for node in job.graph.nodes] == ["clean_events_table_checks"]  # nothing materialized


def _record_run(instance: dg.DagsterInstance, day: date, succeed: bool = True, tags: dict | None = None) -> None:
    """A real run of a job named daily_job for ``day``, created now (after the day ended)."""

    @dg.asset(partitions_def=daily_partitions)
    def probe() -> dg.MaterializeResult:
        if not succeed:
            raise RuntimeError("boom")
        return dg.MaterializeResult()

    job = dg.Definitions(assets=[probe], jobs=[dg.define_asset_job("daily_job")]).resolve_job_def("daily_job")
    job.execute_in_process(instance=instance, raise_on_error=False, tags=tags or {},
                           partition_key=None if tags else day.isoformat())


def test_daily_schedule_skips_a_day_already_handled_and_retries_a_failed_one(instance):
    tick = datetime.combine(datetime.now(UTC).date(), time(2, 0), tzinfo=UTC)
    day = tick.date() - timedelta(days=1)
    schedule = build_daily_schedule(AutomationSettings())
    _record_run(instance, day, succeed=False)
    assert _partition(schedule, tick, instance) == day.isoformat()  # a failed run does not count
    _record_run(instance, day - timedelta(days=5))  # another day does not count either
    assert _partition(schedule, tick, instance) == day.isoformat()
    _record_run(instance, day)
    result = _tick(schedule, tick, instance)
    assert isinstance(result, dg.SkipReason) and f"{day} is already handled" in result.skip_message


def test_daily_schedule_counts_a_range_run_covering_the_day(instance):
    # a day of its own (the day before yesterday), so that the runs of the test above do not count
    tick = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), time(2, 0), tzinfo=UTC)
    day = tick.date() - timedelta(days=1)
    assert _partition(build_daily_schedule(AutomationSettings()), tick, instance) == day.isoformat()
    _record_run(instance, day, tags={"dagster/asset_partition_range_start": (day - timedelta(days=2)).isoformat(),
                                     "dagster/asset_partition_range_end": day.isoformat()})
    assert isinstance(_tick(build_daily_schedule(AutomationSettings()), tick, instance), dg.SkipReason)


def test_settings_file_is_read_and_checked(tmp_path):
    path = tmp_path / "automation.toml"
    path.write_text('timezone = "Europe/Paris"\ndaily_at = "01:30"\nweekly_day = "sunday"\nweekly_at = "23:15"\n')
    settings = AutomationSettings.load(path)
    assert (settings.daily_cron, settings.weekly_cron) == ("30 1 * * *", "15 23 * * 0")
    path.write_text('daily_at = "2am"\n')
    with pytest.raises(ValueError, match="HH:MM"):
        AutomationSettings.load(path)
    path.write_text('timezone = "Mars/Olympus"\n')
    with pytest.raises(Exception):
        AutomationSettings.load(path)
    path.write_text('dayly_at = "02:00"\n')
    with pytest.raises(ValueError, match="unknown settings"):
        AutomationSettings.load(path)
