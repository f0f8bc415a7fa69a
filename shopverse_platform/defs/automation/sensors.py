"""Sensors: landing-zone files, late events, failed runs, and declarative automation."""

import time
from collections.abc import Callable
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
from shopverse_platform.defs.automation.selections import DAILY, LATE_EVENTS_SCOPE, WEEKLY
from shopverse_platform.defs.checks import failed_check_findings
from shopverse_platform.defs.cleaning.assets import EVENT_DAYS_OUTSIDE
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.automation import alerts, landing_scan
from shopverse_platform.lib.automation.settings import (
    DEFAULT_FIRST_DAY,
    AutomationSettings,
    FirstDay,
    automation_settings,
    contiguous_blocks,
    first_day,
    last_complete_day,
    last_complete_week,
    week_start,
)
from shopverse_platform.lib.ingestion import order_exports

LANDING_DAYS_TAG = "shopverse/landing_days"
LATE_DAYS_TAG = "shopverse/late_event_days"
CLEAN_EVENTS = dg.AssetKey("clean_events")
_NO_DAYS = dg.MetadataValue.json([])


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


def _weekly_reruns(context: dg.SensorEvaluationContext, weeks: set[date], now: datetime, first_week: date,
                   run_key: Callable[[date], str], trigger: str) -> list[dg.RunRequest]:
    """Weeks already built whose days changed: re-run their weekly rollups (not model retraining)."""
    if context.repository_def is None:
        return []
    weekly_keys = sorted(WEEKLY.resolve(context.repository_def.asset_graph), key=lambda k: k.to_user_string())
    last_week = last_complete_week(now)
    requests = []
    for week in sorted(weeks):
        if not first_week <= week <= last_week:
            continue  # an unfinished week is the weekly schedule's job
        key = week.isoformat()
        if not any(key in context.instance.get_materialized_partitions(asset) for asset in weekly_keys):
            continue
        requests.append(dg.RunRequest(job_name=weekly_job.name, partition_key=key, asset_selection=weekly_keys,
                                      run_key=run_key(week), tags={TRIGGER_TAG: trigger}))
    return requests


def _day_runs(first: date, last: date, run_key: str, tags: dict[str, str],
              asset_selection: list[dg.AssetKey] | None = None) -> dg.RunRequest:
    """A daily_job run over [first, last]: one partition, or one single-run backfill over the range
    (the SQL runs once over it)."""
    if first == last:
        return dg.RunRequest(job_name=daily_job.name, partition_key=first.isoformat(), run_key=run_key, tags=tags,
                             asset_selection=asset_selection)
    tags = {**tags, alerts.RANGE_START_TAG: first.isoformat(), alerts.RANGE_END_TAG: last.isoformat()}
    return dg.RunRequest(job_name=daily_job.name, run_key=run_key, tags=tags, asset_selection=asset_selection)


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


def alerting_on_failure(sensor: str, tick: Callable[[], dg.SensorResult]) -> dg.SensorResult:
    """Run a sensor's tick; when it raises, raise the sensor-failure alert (log, table, webhook: the
    run-failure alert's channels) once per distinct error, then let Dagster record the failed tick.
    A sensor that fails starts no run, so no run-failure alert would ever say that nothing runs."""
    alerting = Alerting()
    marker = alerting.resolved_log_path().with_name(f"failing_{sensor}.txt")
    try:
        result = tick()
    except Exception as error:
        try:
            if alerts.sensor_failure_is_new(marker, error):
                alerting.dispatch(alerts.sensor_failure_alert(sensor, error, alerting.resolved_ui_url()), Warehouse())
        except Exception:  # noqa: BLE001 - the alert must not hide the sensor's own error
            pass
        raise
    marker.unlink(missing_ok=True)  # working again: its next failure alerts
    return result


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
        return alerting_on_failure("landing_zone_sensor", lambda: _landing_tick(context, landing_zone))

    def _landing_tick(context: dg.SensorEvaluationContext, landing_zone: LandingZone) -> dg.SensorResult:
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
            requests.append(_day_runs(first, last, landing_scan.run_key("landing", first, last, plan),
                                      {TRIGGER_TAG: "landing_zone_sensor", LANDING_DAYS_TAG: span}))
            reasons = sorted({plan.days_to_run[d] for d in plan.days_to_run if first <= d <= last})
            context.log.info(f"landing zone: run daily_job for {span} ({'; '.join(reasons)})")
        requests += _weekly_reruns(
            context, plan.weeks(), now, start.first_week, trigger="landing_zone_sensor",
            run_key=lambda week: landing_scan.run_key("landing-week", week, week + timedelta(days=6), plan))
        requests += _freshness_requests(context, snapshot, plan, previous, settings, now, start.day)
        if plan.deletions_ignored:
            context.log.info(f"files removed (not re-run): {sorted(d.isoformat() for d in plan.deletions_ignored)}")
        if not requests:
            waiting = f"; waiting for {len(plan.waiting)} day(s) still being written or not ended" if plan.waiting else ""
            return dg.SensorResult(skip_reason=f"no new or changed landing files{waiting}", cursor=plan.cursor.to_json())
        return dg.SensorResult(run_requests=requests, cursor=plan.cursor.to_json())

    return landing_zone_sensor


LATE_EVENTS_TRIGGER = "late_events_sensor"


def build_late_events_sensor(start: FirstDay) -> dg.SensorDefinition:
    @dg.sensor(
        name="late_events_sensor",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Events that landed after their day (a tracker's retry, a phone back online) or were stamped "
            "into the next day are cleaned under the day they landed, while the metrics count them on "
            "their own day. After each clean_events materialization this sensor reads the event days "
            "it reported outside its landing days (metadata event_days_outside_run) and re-runs those "
            "days' facts, metrics and report (daily_job without ingestion and cleaning), and their "
            "weekly rollups when the week is built. Days not built yet are left to their own run."
        ),
    )
    def late_events_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        return alerting_on_failure("late_events_sensor", lambda: _late_events_tick(context))

    def _late_events_tick(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        if context.repository_def is None:
            return dg.SensorResult(skip_reason="no repository")
        if context.cursor is None:  # first look: what runs before it made is what they made
            latest = context.instance.fetch_materializations(CLEAN_EVENTS, limit=1).records
            return dg.SensorResult(skip_reason="first look: late events are followed from now on",
                                   cursor=str(latest[0].storage_id if latest else 0))
        found = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=CLEAN_EVENTS, after_storage_id=int(context.cursor)), limit=1000, ascending=True)
        if not found.records:
            return dg.SensorResult(skip_reason="no clean_events materialization since the last look")
        cursor = str(found.records[-1].storage_id)  # more than 1,000 (a long backfill): the next tick goes on
        now = datetime.now(timezone.utc)
        reported = {date.fromisoformat(day) for record in found.records
                    for day in (record.asset_materialization.metadata.get(EVENT_DAYS_OUTSIDE) or _NO_DAYS).value}
        reported = {day for day in reported if start.day <= day <= last_complete_day(now)}
        graph = context.repository_def.asset_graph
        rebuilt = sorted(LATE_EVENTS_SCOPE.resolve(graph), key=lambda k: k.to_user_string())
        daily_keys = DAILY.resolve(graph)
        # the partitions built so far, read only when late events were reported (most ticks: none)
        built = set().union(*(context.instance.get_materialized_partitions(key)
                              for key in rebuilt if key in daily_keys)) if reported else set()
        days = {day for day in reported if day.isoformat() in built}
        if not days:
            return dg.SensorResult(skip_reason=f"no late events on a built day ({len(reported)} day(s) reported)",
                                   cursor=cursor)
        requests = []
        for first, last in contiguous_blocks(days):
            span = first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"
            requests.append(_day_runs(first, last, f"late-events:{span}:{cursor}",
                                      {TRIGGER_TAG: LATE_EVENTS_TRIGGER, LATE_DAYS_TAG: span}, asset_selection=rebuilt))
            context.log.info(f"late events: re-run the facts and metrics of {span}")
        requests += _weekly_reruns(context, {week_start(day) for day in days}, now, start.first_week,
                                   run_key=lambda week: f"late-events-week:{week.isoformat()}:{cursor}",
                                   trigger=LATE_EVENTS_TRIGGER)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return late_events_sensor


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
    evaluations = [entry.dagster_event.event_specific_data for entry in context.instance.all_logs(
        context.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    alert = alerts.run_failure_alert(
        context.dagster_run, context.get_step_failure_events(), context.failure_event.message, alerting.resolved_ui_url(),
        failed_check_findings(evaluations),
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
        build_landing_zone_sensor(automation_settings(), first_day()), build_late_events_sensor(first_day()),
        run_failure_alert_sensor, automation_sensor,
    ])
