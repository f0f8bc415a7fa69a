"""Daily and weekly schedules, on by default, at the times of ``automation.toml`` (read when the
definitions load, through ``automation_settings()``)."""

from datetime import date

import dagster as dg

from shopverse_platform.defs.automation.jobs import TRIGGER_TAG, daily_job, integrity_job, weekly_job
from shopverse_platform.lib.automation.alerts import RANGE_END_TAG, RANGE_START_TAG
from shopverse_platform.lib.automation.settings import (
    AutomationSettings,
    automation_settings,
    day_end,
    last_complete_day,
    last_complete_week,
)

# A day counts as processed when a daily_job run covering it was created after the day ended and
# has not failed: the landing-zone sensor usually gets there first, minutes after midnight.
_ALIVE = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.SUCCESS,
]


def run_covering_day(instance: dg.DagsterInstance, day: date, job_name: str = "daily_job") -> dg.DagsterRun | None:
    """A queued, running or successful run of ``job_name`` created after ``day`` ended that covers it."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=job_name, statuses=_ALIVE, created_after=day_end(day)), limit=500
    )
    key = day.isoformat()
    for run in runs:
        tags = run.tags
        if tags.get("dagster/partition") == key:
            return run
        if tags.get(RANGE_START_TAG, "9999") <= key <= tags.get(RANGE_END_TAG, ""):
            return run
    return None


def build_daily_schedule(settings: AutomationSettings) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="daily_schedule",
        job=daily_job,
        cron_schedule=settings.daily_cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Every day at {settings.daily_at:%H:%M} ({settings.timezone}): the daily job for the last UTC "
            "day that has ended, unless a run for that day (usually from the landing-zone sensor) "
            "is already queued, running or done. A failed run does not count, so this also retries it."
        ),
    )
    def daily_schedule(context: dg.ScheduleEvaluationContext):
        day = last_complete_day(context.scheduled_execution_time)
        covering = run_covering_day(context.instance, day)
        if covering is not None:
            return dg.SkipReason(f"{day} is already handled by run {covering.run_id} ({covering.status.value})")
        return dg.RunRequest(run_key=day.isoformat(), partition_key=day.isoformat(), tags={TRIGGER_TAG: "daily_schedule"})

    return daily_schedule


def each_week(settings: AutomationSettings, name: str, job, what: str, partitioned: bool,
              default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.RUNNING) -> dg.ScheduleDefinition:
    """A schedule at the weekly time asking ``job`` for the last Monday-to-Sunday UTC week that has
    ended: that week's partition, or (``partitioned`` False) a run keyed by the week, without one."""

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=settings.weekly_cron,
        execution_timezone=settings.timezone,
        default_status=default_status,
        description=f"Every {settings.weekly_day.title()} at {settings.weekly_at:%H:%M} ({settings.timezone}): {what}",
    )
    def each_week(context: dg.ScheduleEvaluationContext):
        week = last_complete_week(context.scheduled_execution_time).isoformat()
        return dg.RunRequest(run_key=week, partition_key=week if partitioned else None, tags={TRIGGER_TAG: name})

    return each_week


def build_weekly_schedule(settings: AutomationSettings) -> dg.ScheduleDefinition:
    return each_week(settings, "weekly_schedule", weekly_job, (
        "the weekly job for the last Monday-to-Sunday UTC week that has ended (rollups, segment snapshots, "
        "model retraining, the weekly report). Queued behind the daily run of Sunday."), partitioned=True)


def build_integrity_schedule(settings: AutomationSettings) -> dg.ScheduleDefinition:
    return each_week(settings, "integrity_schedule", integrity_job, (
        "the whole-table uniqueness of clean_events' event ids (a daily run checks the days it wrote against "
        "the days a re-delivery can land on; this looks at every day). Queued behind the other writers."),
        partitioned=False)


@dg.definitions
def schedules() -> dg.Definitions:
    settings = automation_settings()
    return dg.Definitions(schedules=[build_daily_schedule(settings), build_weekly_schedule(settings),
                                     build_integrity_schedule(settings)])
