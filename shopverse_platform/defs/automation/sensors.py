"""Sensors: landing-zone files, failed runs, and declarative automation."""

import time
from datetime import date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import dagster as dg

from shopverse_platform.defs.automation.jobs import (
    FRESHNESS_TRIGGER,
    TRIGGER_TAG,
    WAREHOUSE_TAG,
    daily_job,
    freshness_job,
    weekly_job,
)
from shopverse_platform.defs.automation.resources import Alerting
from shopverse_platform.defs.automation.selections import WEEKLY
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.automation import alerts, landing_scan
from shopverse_platform.lib.ingestion import order_exports
from shopverse_platform.lib.automation.settings import (
    DEFAULT_FIRST_DAY,
    AutomationSettings,
    FirstDay,
    automation_settings,
    first_day,
    last_complete_day,
    last_complete_week,
)

LANDING_DAYS_TAG = "shopverse/landing_days"


def processed_at(instance: dg.DagsterInstance, asset_name: str, days) -> dict[date, float]:
    """Latest materialization time of each given day partition of ``asset_name``."""
    wanted = {d.isoformat() for d in days}
    found: dict[date, float] = {}
    if not wanted:
        return found
    cursor = None
    while True:
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset_name), asset_partitions=sorted(wanted)),
            limit=1000, cursor=cursor,
        )
        for record in result.records:  # newest first: the first seen per partition is the latest
            if record.partition_key in wanted:
                found.setdefault(date.fromisoformat(record.partition_key), record.timestamp)
        if not result.has_more or len(found) == len(wanted):
            return found
        cursor = result.cursor


def _weekly_reruns(context: dg.SensorEvaluationContext, plan: landing_scan.LandingPlan, now: datetime,
                   first_week: date) -> list[dg.RunRequest]:
    """Weeks already built whose days changed: re-run their weekly rollups (not model retraining)."""
    if context.repository_def is None:
        return []
    weekly_keys = sorted(WEEKLY.resolve(context.repository_def.asset_graph), key=lambda k: k.to_user_string())
    last_week = last_complete_week(now)
    requests = []
    for week in sorted(plan.weeks()):
        if not first_week <= week <= last_week:
            continue  # an unfinished week is the weekly schedule's job
        key = week.isoformat()
        if not any(key in context.instance.get_materialized_partitions(asset) for asset in weekly_keys):
            continue
        requests.append(dg.RunRequest(
            job_name=weekly_job.name, partition_key=key, asset_selection=weekly_keys,
            run_key=landing_scan.run_key("landing-week", week, week + timedelta(days=6), plan),
            tags={TRIGGER_TAG: "landing_zone_sensor"},
        ))
    return requests


_IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def freshness_run_in_flight(instance: dg.DagsterInstance, day: date) -> dg.DagsterRun | None:
    """A freshness run of ``day`` that is queued or running (at most one per day is wanted)."""
    runs = instance.get_runs(filters=dg.RunsFilter(
        job_name=freshness_job.name, statuses=_IN_FLIGHT, tags={"dagster/partition": day.isoformat()}), limit=1)
    return runs[0] if runs else None


def _freshness_requests(context: dg.SensorEvaluationContext, snapshot: landing_scan.Snapshot,
                        plan: landing_scan.LandingPlan, previous: landing_scan.LandingCursor | None,
                        settings: AutomationSettings, now: datetime, first: date) -> list[dg.RunRequest]:
    """The freshness path: one ``freshness_job`` run per day in progress whose settled files changed,
    at most one per ``freshness_interval_seconds`` and never while one is in flight. Its entry goes
    into the cursor's ``fresh`` part; the day's full run waits for the day's end as before."""
    fresh = landing_scan.freshness_plan(
        snapshot, previous.fresh if previous else {}, last_complete=last_complete_day(now), first_day=first,
        now=now.timestamp(), interval_seconds=settings.freshness_interval_seconds,
    )
    requests, requested = [], []
    for day, token in sorted(fresh.due.items()):
        running = freshness_run_in_flight(context.instance, day)
        if running is not None:
            context.log.info(f"freshness: {day} has new files; run {running.run_id} is still in flight")
            continue
        requested.append(day)
        requests.append(dg.RunRequest(
            job_name=freshness_job.name, partition_key=day.isoformat(),
            run_key=landing_scan.freshness_run_key(day, token),
            tags={TRIGGER_TAG: FRESHNESS_TRIGGER, LANDING_DAYS_TAG: day.isoformat()},
        ))
        context.log.info(f"freshness: run {freshness_job.name} for {day} (new files in a day not ended yet)")
    plan.cursor.fresh = fresh.cursor(requested, now.timestamp())
    return requests


def build_landing_zone_sensor(settings: AutomationSettings, start: FirstDay | None = None) -> dg.SensorDefinition:
    """``start``: where the partitions start (unset: the default first day, 2010-12-01)."""
    start = start or FirstDay(DEFAULT_FIRST_DAY, "the default first day", pinned=False)

    @dg.sensor(
        name="landing_zone_sensor",
        jobs=[daily_job, weekly_job, freshness_job],
        minimum_interval_seconds=settings.landing_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Watches the landing zone (events/YYYY-MM-DD, logs/YYYYMMDD, order exports). New or changed "
            "files start the daily job for exactly the UTC days they touch (consecutive days in one "
            "run); late files re-run old days and everything downstream, and the weekly rollups of "
            "weeks already built. The cursor keeps one fingerprint per day, so a file is processed once "
            "and a file still being written waits. Days that have not ended yet get the full run once "
            "they have; meanwhile their new files start the freshness job (ingestion, cleaning, facts "
            f"and daily metrics of that day, appending the new files), at most once per "
            f"{settings.freshness_interval_seconds} s and one run per day in flight. "
            f"Days before the first day of the partitions ({start.day}, {start.setting}) are ignored."
        ),
    )
    def landing_zone_sensor(context: dg.SensorEvaluationContext, landing_zone: LandingZone) -> dg.SensorResult:
        now = datetime.now(timezone.utc)
        snapshot = landing_scan.scan(
            landing_zone.root(), landing_zone.order_exports_path(), time.time(), settings.landing_settle_seconds
        )
        previous = landing_scan.LandingCursor.from_json(context.cursor)
        plan = landing_scan.plan(
            snapshot,
            previous,
            last_complete=last_complete_day(now),
            first_day=start.day,
            processed_at=partial(processed_at, context.instance),
            days_of_export=lambda key: order_exports.partition_days(Path(key)),
        )
        requests = []
        for first, last in plan.blocks():
            span = first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"
            tags = {TRIGGER_TAG: "landing_zone_sensor", LANDING_DAYS_TAG: span}
            if first == last:
                request = dg.RunRequest(job_name=daily_job.name, partition_key=first.isoformat(),
                                        run_key=landing_scan.run_key("landing", first, last, plan), tags=tags)
            else:  # one single-run backfill over consecutive days: the SQL runs once over the range
                tags.update({alerts.RANGE_START_TAG: first.isoformat(), alerts.RANGE_END_TAG: last.isoformat()})
                request = dg.RunRequest(job_name=daily_job.name, run_key=landing_scan.run_key("landing", first, last, plan), tags=tags)
            requests.append(request)
            reasons = sorted({plan.days_to_run[d] for d in plan.days_to_run if first <= d <= last})
            context.log.info(f"landing zone: run daily_job for {span} ({'; '.join(reasons)})")
        requests += _weekly_reruns(context, plan, now, start.first_week)
        requests += _freshness_requests(context, snapshot, plan, previous, settings, now, start.day)
        if plan.deletions_ignored:
            context.log.info(f"files removed (not re-run): {sorted(d.isoformat() for d in plan.deletions_ignored)}")
        if not requests:
            waiting = f"; waiting for {len(plan.waiting)} day(s) still being written or not ended" if plan.waiting else ""
            return dg.SensorResult(skip_reason=f"no new or changed landing files{waiting}", cursor=plan.cursor.to_json())
        return dg.SensorResult(run_requests=requests, cursor=plan.cursor.to_json())

    return landing_zone_sensor


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Any failed run of this code location raises an alert: a line in data/alerts/alerts.log, a "
        "row in the warehouse table `alerts`, and a Slack-compatible post to "
        "$SHOPVERSE_ALERT_WEBHOOK_URL when set. It names the failing asset, partition, error and "
        "links the run in the UI ($SHOPVERSE_UI_URL)."
    ),
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, alerting: Alerting, warehouse: Warehouse) -> None:
    alert = alerts.run_failure_alert(
        context.dagster_run, context.get_step_failure_events(), context.failure_event.message, alerting.resolved_ui_url()
    )
    alert, stored = alerting.dispatch(alert, warehouse)
    context.log.error(f"ALERT {alert.title}: {alert.error.splitlines()[0][:300]} | webhook {alert.webhook_status} | table {stored}")


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    run_tags={TRIGGER_TAG: "automation_sensor", WAREHOUSE_TAG: "write"},
    emit_backfills=False,
    description=(
        "Declarative automation: unpartitioned tables built from daily partitions (sessions, "
        "dimensions, customer metrics, anomalies) are rebuilt after any of their "
        "partitions is updated outside the daily job, e.g. a single day re-materialized from the UI."
    ),
)


@dg.definitions
def sensors() -> dg.Definitions:
    return dg.Definitions(sensors=[
        build_landing_zone_sensor(automation_settings(), first_day()), run_failure_alert_sensor, automation_sensor,
    ])
