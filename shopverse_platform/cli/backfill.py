"""A range of days as one command: the daily job over the whole range in one run (the SQL of every
daily asset runs once over the range), then the weekly job over the complete weeks in it.

Runs execute in this process on the instance in ``$DAGSTER_HOME``, recorded under the workspace's
code location as a run launched from the UI is (they show in the Overview timeline too). The run
queue cannot see a process it did not launch, so before starting, the backfill waits until no run
of the instance is starting or running: one writer at a time, whoever launched it. While the
backfill's own run is in progress the queue counts it and holds its runs back.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from shopverse_platform.cli.arguments import REPORT_CHOICES, UsageError
from shopverse_platform.defs.automation.run_workers import (
    BUSY,
    STEP_PROCESS_START,
    CeleryWorkersMissing,
    fail_abandoned_runs,
    require_celery_workers,
)
from shopverse_platform.defs.lineage.dagster_internals import execute_in_code_location
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.automation.alerts import RANGE_END_TAG, RANGE_START_TAG
from shopverse_platform.lib.automation.processes import RUNNER_TAG, runner_tag
from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform.lib.warehouse import lake as ducklake

# Runs executed in this process carry shopverse/runner ("host:pid:start time"). If the process
# dies (kill -9, OOM, a closed laptop lid), the run stays STARTED; the daemon's run monitoring fails
# it when a daemon runs (defs/automation/run_workers.py), and without one the next command on the
# same host sees the process is gone and fails it first.


@dataclass(frozen=True)
class BackfillStage:
    job_name: str
    first: str
    last: str
    run_id: str
    success: bool
    seconds: float


def complete_weeks(first_day: date, last_day: date) -> tuple[date, date] | None:
    """First and last Monday of the Monday-to-Sunday weeks lying wholly inside [first_day, last_day]."""
    first = first_day + timedelta(days=(7 - first_day.weekday()) % 7)
    last = last_day - timedelta(days=6)
    last -= timedelta(days=last.weekday())
    return (first, last) if first <= last else None


def wait_until_idle(instance: dg.DagsterInstance, timeout: float, echo: Callable[[str], None] = print, poll: float = 2.0) -> None:
    """Block while any run of the instance is starting, running or cancelling (runs whose
    in-process executor died are failed first, so they do not hold everything back)."""
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        fail_abandoned_runs(instance, echo)
        busy = instance.get_runs(filters=dg.RunsFilter(statuses=BUSY), limit=5)
        if not busy:
            return
        if not announced:
            echo(f"waiting for {len(busy)} run(s) in progress to finish first (one warehouse writer at a time): "
                 + ", ".join(f"{r.job_name} {r.run_id[:8]}" for r in busy))
            announced = True
        if time.monotonic() > deadline:
            raise TimeoutError(f"runs still in progress after {timeout:.0f}s: {[r.run_id for r in busy]}")
        time.sleep(poll)


def require_lake_for_steps_at_once(workers: int, celery: bool) -> None:
    """Steps at once (``workers`` > 1, ``celery``) write from several processes: ValueError unless the
    warehouse is a DuckLake."""
    if (workers > 1 or celery) and Warehouse().lake() is None:
        raise ValueError(f"{'--celery' if celery else '--workers'} needs a DuckLake warehouse (a DuckDB file admits one "
                         "writing process): `shopverse warehouse migrate`, then SHOPVERSE_WAREHOUSE=ducklake:...")


def step_execution(workers: int, celery: bool) -> dict:
    """The run config's executor choice (defs/automation/run_workers.py): ``workers`` steps at once,
    the Celery workers, or one step after another in this process. Always explicit: a code location
    whose default is Celery ($SHOPVERSE_CELERY_BROKER) still runs a plain `shopverse backfill` here.
    ValueError for Celery without a broker."""
    if celery:
        from shopverse_platform.defs.automation.run_workers import celery_settings

        settings = celery_settings()
        if settings is None:
            raise ValueError("--celery needs SHOPVERSE_CELERY_BROKER, the broker the workers listen to")
        return {"celery": settings}
    if workers == 1:
        return {"in_process": {}}
    # forkserver: each step's process is forked from one server that has imported the code
    # location and the instance's storage classes (cli/step_processes.py) once; spawned afresh, or
    # forked from a server that preloaded Dagster's executor module alone (what an empty preload
    # list gives), each step first spent ~2 s importing them.
    return {"multiprocess": {"max_concurrent": workers, "start_method": STEP_PROCESS_START}}


def check_step_workers(workers: int, celery: bool) -> None:
    """Steps at once (``--workers N``, ``--celery``) need a lake; Celery needs a broker and a worker
    answering on it: without one the run's steps wait for ever (and Ctrl-C with them)."""
    if workers <= 1 and not celery:
        return
    try:
        require_lake_for_steps_at_once(workers, celery)
        execution = step_execution(workers, celery)
        if celery:
            require_celery_workers(execution["celery"])
    except (ValueError, CeleryWorkersMissing) as error:
        raise UsageError(str(error)) from None


def run_range(defs: dg.Definitions, instance: dg.DagsterInstance, job_name: str, first: date, last: date,
              trigger: str, log_level: str = "INFO",
              assets: set[dg.AssetKey] | None = None,
              label: str | None = None,
              echo: Callable[[str], None] = print,
              execution: dict | None = None,
              ops: dict | None = None) -> tuple[BackfillStage, dg.JobExecutionResult]:
    """One run of ``job_name`` over [first, last] (``assets``: a subset of the job's assets, their
    checks included; ``label``: how the stage is named in the summary), its steps' progress told
    through ``echo`` as they finish. ``execution``: the run config's executor (``step_execution``;
    with steps in processes, the warehouse resource divides the cores among them). ``ops``: the run
    config of the job's assets (``{"raw_orders": {"config": {...}}}``)."""
    started = time.perf_counter()
    job = defs.resolve_job_def(job_name)
    if assets is not None:
        job = job.get_subset(asset_selection=assets)
    run_id = str(uuid.uuid4())
    progress = StepProgress(instance, run_id, total=len(job.graph.nodes), echo=echo)
    progress.start()
    try:
        result = _execute(defs, job_name, assets, instance, run_id, first, last, trigger, log_level, execution, ops)
    finally:
        progress.finish()
    stage = BackfillStage(job_name if label is None else label,
                          first.isoformat(), last.isoformat(), result.run_id, result.success,
                          time.perf_counter() - started)
    return stage, result


def _execute(defs: dg.Definitions, job_name: str, assets: set[dg.AssetKey] | None, instance: dg.DagsterInstance,
             run_id: str, first: date, last: date, trigger: str, log_level: str,
             execution: dict | None = None, ops: dict | None = None) -> dg.JobExecutionResult:
    """Run ``job_name`` (``assets`` of it) in this process, recorded under the workspace's code
    location like a run launched from the UI, so the Overview timeline and the run list show it."""
    return execute_in_code_location(
        defs.resolve_job_def(job_name), defs.get_repository_def().name, PROJECT_ROOT / "workspace.yaml", instance,
        run_id=run_id, asset_selection=assets,
        # The terminal gets INFO and above (a month's run printed ~710 DEBUG lines such as
        # "Materialized value X." once per partition); every event, DEBUG included, is still in the
        # run's event log: the run's page in the Dagster UI shows it. -v shows DEBUG here too.
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}},
                    **({"execution": {"config": execution}} if execution else {}),
                    **({"ops": ops} if ops else {})},
        step_processes=execution is not None and "in_process" not in execution,
        tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat(), "shopverse/trigger": trigger,
              RUNNER_TAG: runner_tag()},
    )


STEP_EVENTS = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE,
               dg.DagsterEventType.STEP_SKIPPED, dg.DagsterEventType.STEP_UP_FOR_RETRY}


class StepProgress(threading.Thread):
    """Progress of a run this process executes: one plain line per finished step, read from the
    run's event log (the same records the Dagster UI shows), e.g.
    ``  [7/29] order_lines ok in 25.3s · 1:02 elapsed``. A line per step rather than a redrawn bar:
    it reads the same in a terminal, a CI log or a file."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, total: int, echo: Callable[[str], None],
                 poll_seconds: float = 1.0):
        super().__init__(name=f"progress-{run_id[:8]}", daemon=True)
        self.instance, self.run_id, self.total, self.echo, self.poll = instance, run_id, total, echo, poll_seconds
        self.started_at = time.monotonic()
        self.done = 0
        self._cursor: str | None = None
        self._step_started: dict[str, float] = {}
        self._finished = threading.Event()

    def run(self) -> None:
        while not self._finished.wait(self.poll):
            self._drain()

    def finish(self) -> None:
        """Stop polling and print the steps that finished since the last poll."""
        self._finished.set()
        self.join(timeout=10)
        self._drain()

    def _drain(self) -> None:
        try:
            while True:
                page = self.instance.get_records_for_run(self.run_id, cursor=self._cursor, of_type=STEP_EVENTS)
                for record in page.records:
                    self._show(record.event_log_entry)
                self._cursor = page.cursor
                if not page.has_more:
                    return
        except Exception:  # noqa: BLE001 -- progress is a courtesy: it must never fail the run it watches
            return

    def _show(self, entry) -> None:
        event = entry.dagster_event
        if event is None or event.step_key is None:
            return
        if event.event_type == dg.DagsterEventType.STEP_START:
            self._step_started[event.step_key] = entry.timestamp
            return
        took = entry.timestamp - self._step_started.get(event.step_key, entry.timestamp)
        if event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY:  # e.g. a commit that met another on a DuckLake
            cause = (event.step_retry_data.error.cause or event.step_retry_data.error) if event.step_retry_data and event.step_retry_data.error else None
            reason = cause.message.strip().splitlines()[-1][:120] if cause else "retry requested"
            self.echo(f"  [{self.done}/{self.total}] {event.step_key} up for retry after {took:.1f}s: {reason}")
            return
        self.done += 1
        outcome = {dg.DagsterEventType.STEP_SUCCESS: "ok", dg.DagsterEventType.STEP_FAILURE: "FAILED",
                   dg.DagsterEventType.STEP_SKIPPED: "skipped"}[event.event_type]
        elapsed = int(time.monotonic() - self.started_at)
        self.echo(f"  [{self.done}/{self.total}] {event.step_key} {outcome} in {took:.1f}s · "
                  f"{elapsed // 60}:{elapsed % 60:02d} elapsed")


DAILY_REPORT = dg.AssetKey("daily_report")
# the raw assets rebuilding days from input files (config drop_missing_inputs)
RAW_INPUTS = ("raw_events", "raw_orders")


def backfill(defs: dg.Definitions, instance: dg.DagsterInstance, first_day: date, last_day: date, *,
             weekly: bool = True, reports: str = "latest", select: str | None = None,
             wait_timeout: float = 3600, echo: Callable[[str], None] = print,
             on_failure: Callable[[dg.JobExecutionResult], None] | None = None,
             log_level: str = "INFO", workers: int = 1, celery: bool = False,
             drop_missing_inputs: Collection[str] = ()) -> list[BackfillStage]:
    """The daily job over [first_day, last_day] in one run (its daily report left out), the weekly
    job over its complete weeks, and only then the daily reports (``reports``: the last day's, all,
    or none): a report written before the weekly job would say "segments not available yet" about
    what the same command builds minutes later, and a year of per-day HTML pages is a quarter of a
    year's backfill (issue 14's measurement) that nobody asked for. ``select``: only the daily
    assets of this Dagster asset selection (the UI's syntax), e.g. ``+key:daily_sales``.
    ``workers``: steps of a run executed at once, each in a process of its own (Dagster's
    multiprocess executor); a DuckLake warehouse only, as a DuckDB file admits one writing process.
    ``celery``: every step a task for the Celery workers of $SHOPVERSE_CELERY_BROKER instead.
    ``drop_missing_inputs``: the raw assets of ``RAW_INPUTS`` that rebuild days whose input files are
    gone, dropping what came from them (their config; without it such a run fails before changing
    anything).

    Why steps and not days in parallel: the daily assets read the days before the ones they build
    (new against returning customers, duplicates across deliveries, sessions across midnight), so
    two runs of consecutive day ranges at once built different figures for the later range's
    first days than one run did (measured: daily_sales differed on 4 of 14 days). The steps of
    one run over the whole range keep the order the asset graph sets."""
    if last_day < first_day:
        raise ValueError(f"the range ends ({last_day}) before it starts ({first_day})")
    if reports not in REPORT_CHOICES:
        raise ValueError(f"reports must be one of {REPORT_CHOICES}, got {reports!r}")
    require_lake_for_steps_at_once(workers, celery)
    execution = step_execution(workers, celery)
    from shopverse_platform.defs.automation.selections import DAILY_SCOPE  # the daily job's selection

    graph = defs.resolve_asset_graph()
    daily_assets = set(DAILY_SCOPE.resolve(graph))
    if select:
        daily_assets &= set(dg.AssetSelection.from_string(select).resolve(graph))
        if not daily_assets:
            raise ValueError(f"the selection {select!r} holds none of the daily job's assets")
    stages = []
    plan: list[tuple[str, str, date, date, set[dg.AssetKey] | None]] = [
        ("daily_job", "daily_job", first_day, last_day, daily_assets - {DAILY_REPORT})]
    weeks = complete_weeks(first_day, last_day) if weekly else None
    if weeks:
        plan.append(("weekly_job", "weekly_job", *weeks, None))
    if reports != "none" and DAILY_REPORT in daily_assets:
        plan.append(("daily_job", "daily reports", first_day if reports == "all" else last_day, last_day, {DAILY_REPORT}))
    for job_name, what, first, last, assets in plan:
        wait_until_idle(instance, wait_timeout, echo)
        echo(f"{what} {first}..{last}: running")
        # the raw assets' config where the run materializes them (a run config naming an op outside
        # the run's selection is refused)
        ops = {name: {"config": {"drop_missing_inputs": True}} for name in drop_missing_inputs
               if job_name == "daily_job" and dg.AssetKey(name) in (assets or daily_assets)} or None
        stage, result = run_range(defs, instance, job_name, first, last, "cli_backfill", log_level, assets, what, echo,
                                  execution=execution, ops=ops)
        stages.append(stage)
        # With one worker the run's steps ran in this process, on its DuckLake instance, which gave
        # the never-filled tables their statistics when it was made: the tables this run created and
        # left empty (a UCI-shaped, orders-only shop's 14 event tables) get theirs now, before the
        # next run reads them (its weekly job read them unprimed: a week's segment snapshot asked the
        # catalog 149 times instead of 29, the step took 23.6 s instead of 10.4 s). Step processes
        # (--workers, --celery) and runs launched by the daemon make their own instance, primed then.
        ducklake.prime_instances()
        echo(f"{what} {first}..{last}: {'ok' if stage.success else 'FAILED'} in {stage.seconds:.1f}s (run {stage.run_id})")
        if not stage.success:
            if on_failure is not None:
                on_failure(result)
            break
    return stages


def alert_failed_run(result: dg.JobExecutionResult) -> None:
    """Raise the run-failure alert of a run this process executed (the failure sensor only sees
    runs of the daemon's queue): the webhook when configured, the ``alerts`` table always."""
    from shopverse_platform.defs.automation.resources import Alerting
    from shopverse_platform.defs.checks import failed_check_findings
    from shopverse_platform.defs.resources import Warehouse
    from shopverse_platform.lib.automation import alerts

    failure = next((e for e in result.all_events if e.event_type_value == "RUN_FAILURE"), None)
    alerting = Alerting()
    checks = failed_check_findings(result.get_asset_check_evaluations())
    sent, stored = alerting.dispatch(alerts.run_failure_alert(
        result.dagster_run, result.get_step_failure_events(), failure.message if failure else None,
        alerting.resolved_ui_url(), checks), Warehouse())
    # each failed check's finding in full (what failed the run, in words), else the error's first line
    said = "\n  ".join(line[:600] for line in checks) or sent.error.splitlines()[0][:300]
    print(f"ALERT {sent.title}\n  {said}\n  {sent.run_url}  (webhook: {sent.webhook_status}; table: {stored})")

