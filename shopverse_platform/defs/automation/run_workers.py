"""Runs whose worker process died are failed, so the one-run queue does not wait for them.

Every run records the process that executes its steps in the ``shopverse/runner`` tag
(``host:pid:start time``, lib/automation/processes.py): the shopverse command tags its in-process
runs itself, and the executor below tags runs the daemon launches from inside their run worker.

Two places read the tag. The daemon's run monitoring asks the run launcher about every STARTED run
each ``poll_interval_seconds`` (dagster.yaml): Dagster's ``DefaultRunLauncher`` cannot answer
(its ``supports_check_run_worker_health`` is False in 1.13), so a run whose worker died with or
after its code server (a crash, an OOM kill, a restarted stack) stayed STARTED until
``max_runtime_seconds`` (6 h) and held the queue. ``ShopverseRunLauncher`` is that launcher plus
the health check. The shopverse command, which runs without a daemon, calls
``fail_abandoned_runs`` before it starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import dagster as dg
from dagster_celery import celery_executor
from shopverse_platform.defs.lineage.dagster_internals import (
    CheckRunHealthResult, DefaultRunLauncher, RetryMode, WorkerStatus,
)

from shopverse_platform.defs.automation.celery_steps import WatchedCeleryExecutor
from shopverse_platform.lib.automation.processes import RUNNER_TAG, runner_gone, runner_tag
from shopverse_platform.lib.warehouse.switches import switched_on

# The module a run's step processes are forked from (Dagster's forkserver preload): it imports the
# code location and builds its definitions once, for every step's process (cli/step_processes.py).
STEP_PROCESS_PRELOAD = "shopverse_platform.cli.step_processes"
STEP_PROCESS_START = {"forkserver": {"preload_modules": [STEP_PROCESS_PRELOAD]}}

# Statuses in which a run has (or is about to have) a live worker.
BUSY = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def gone_message(run: dg.DagsterRun, who: str) -> str | None:
    """Why ``run`` is abandoned (its runner process is gone), else None."""
    if (gone := runner_gone(run.tags.get(RUNNER_TAG))) is None:
        return None
    return (f"the process that executed this run ({gone}) is gone: it died or was killed "
            f"before the run finished; marked failed by {who}")


def fail_abandoned_runs(instance: dg.DagsterInstance, echo: Callable[[str], None] = print,
                        who: str = "the next shopverse command") -> list[str]:
    """Mark failed the in-progress runs executed by a process of this host that no longer exists."""
    failed = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=BUSY)):
        if (message := gone_message(run, who)) is None:
            continue
        instance.report_run_failed(run, message)
        echo(f"{run.job_name} {run.run_id[:8]}: {message}")
        failed.append(run.run_id)
    return failed


class _RunnerTaggingExecutor(dg.Executor):
    """An executor that first tags the run with the process executing it (the run worker), then
    lets ``inner`` run the steps."""

    def __init__(self, inner: dg.Executor) -> None:
        self._inner = inner

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan):
        plan_context.instance.add_run_tags(plan_context.run_id, {RUNNER_TAG: runner_tag()})
        yield from self._inner.execute(plan_context, execution_plan)

    def __getattr__(self, name: str):
        # What an executor's own loop asks of "its" executor (dagster-celery's: app_args()) is the inner one's.
        return getattr(self._inner, name)


def _requirements(config: dict) -> list:
    # A step in a process of its own loads the code again and shares the run's instance.
    return dg.multiple_process_executor_requirements() if "in_process" not in config else []


def celery_settings(environ: dict | None = None) -> dict | None:
    """The Celery executor's config from the environment: $SHOPVERSE_CELERY_BROKER (e.g.
    redis://127.0.0.1:6379/0) and $SHOPVERSE_CELERY_BACKEND (default: the broker); None when unset."""
    env = os.environ if environ is None else environ
    broker = env.get("SHOPVERSE_CELERY_BROKER")
    return {"broker": broker, "backend": env.get("SHOPVERSE_CELERY_BACKEND") or broker} if broker else None


WORKER_CHECK_VARIABLE = "SHOPVERSE_CELERY_WORKER_CHECK"
WORKER_PING_SECONDS = 3.0


class CeleryWorkersMissing(dg.DagsterUnmetExecutorRequirementsError):
    """No Celery worker answers on the broker, or the broker cannot be reached: the run's steps would
    be queued for workers that never take them, and the run would wait for ever (its executor waits
    for every task's result, and on a termination request for revoked tasks nobody reports). A
    Dagster error, so that a run whose executor meets it is recorded failed with this message."""


def listening_workers(settings: dict, timeout: float = WORKER_PING_SECONDS, names: tuple[str, ...] = ()) -> list[str]:
    """The names of the Celery workers that answer a ping on the broker of ``settings`` (the Celery
    executor's config: ``celery_settings``) within ``timeout`` seconds, only those of ``names`` when
    given: the first answer (with ``names``, all of theirs) ends the wait, and none makes it last
    ``timeout``. CeleryWorkersMissing when the broker cannot be reached."""
    from celery import Celery
    from kombu.exceptions import OperationalError
    from kombu.utils.url import maybe_sanitize_url

    app = Celery(broker=settings["broker"], set_as_current=False)  # a probe: dagster-celery's app stays the current one
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            replies = app.control.ping(destination=list(names) or None, timeout=timeout, limit=len(names) or 1,
                                       connection=connection)
    except OperationalError as error:
        raise CeleryWorkersMissing(f"the Celery broker {maybe_sanitize_url(settings['broker'])} ($SHOPVERSE_CELERY_BROKER) "
                                   f"cannot be reached: {error}") from error
    return sorted(name for reply in replies for name in reply)


def require_celery_workers(settings: dict, environ: dict | None = None) -> list[str]:
    """The workers answering on the broker of ``settings``; CeleryWorkersMissing, naming the broker
    and what to start, when none does. $SHOPVERSE_CELERY_WORKER_CHECK=0 skips the question (a pool that
    starts its workers when tasks are queued, e.g. scaled from zero on the queue's length)."""
    from kombu.utils.url import maybe_sanitize_url

    if not switched_on(WORKER_CHECK_VARIABLE, True, environ):
        return []
    workers = listening_workers(settings)
    if not workers:
        raise CeleryWorkersMissing(
            f"no Celery worker answered on {maybe_sanitize_url(settings['broker'])} ($SHOPVERSE_CELERY_BROKER) within "
            f"{WORKER_PING_SECONDS:.0f} s: the run's steps would wait for one for ever. Start `shopverse celery-worker` "
            f"on a machine that sees the lake (or set {WORKER_CHECK_VARIABLE}=0 for a pool that starts its workers "
            "when tasks are queued)")
    return workers


def default_execution(environ: dict | None = None) -> dict:
    """Steps on Celery workers when a broker is configured (a deployment sets it for the code
    location: every run, scheduled or launched, then fans out), else one after another."""
    celery = celery_settings(environ)
    return {"celery": celery} if celery else {"in_process": {}}


@dg.executor(
    name="in_process_or_multiprocess",
    config_schema=dg.Field(
        dg.Selector({"in_process": dg.in_process_executor.config_schema.as_field(),
                     "multiprocess": dg.multiprocess_executor.config_schema.as_field(),
                     "celery": celery_executor.config_schema.as_field()}),
        default_value=default_execution(),
    ),
    requirements=_requirements,
)
def steps_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """How a run executes its steps: one after another in the run worker (``in_process``, the
    default: a DuckDB-file warehouse admits one writing process); each in a process of its own,
    ``max_concurrent`` at once (``multiprocess``: a DuckLake warehouse admits several writers;
    ``shopverse backfill --workers N``); or each as a task for the workers of a Celery broker
    (``celery``, dagster-celery: workers on any machine that sees the lake, started with
    ``shopverse celery-worker``; the default when $SHOPVERSE_CELERY_BROKER is set). Either way it
    first tags the run with the run worker's host, PID and start time."""
    config = init_context.executor_config
    if "celery" in config:
        celery = config["celery"]
        require_celery_workers(celery)  # else the run waits for ever for tasks nobody takes
        # dagster-celery's executor (what its executor_creation_fn makes), its tasks watched for lost workers
        inner = WatchedCeleryExecutor(
            broker=celery.get("broker"), backend=celery.get("backend"), config_source=celery.get("config_source"),
            include=celery.get("include"), retries=RetryMode.from_config(celery["retries"]),
            queued_may_wait=not switched_on(WORKER_CHECK_VARIABLE, True))
    elif "multiprocess" in config and not config["multiprocess"].get("start_method"):
        # a run launched with steps in processes (the UI's launchpad) forks them from the server
        # `shopverse backfill --workers` names: each found the code imported and its definitions
        # built, where Dagster's default preload imports the job's module and each step built them
        inner = dg.multi_or_in_process_executor.executor_creation_fn(dg.InitExecutorContext(
            job=init_context.job, executor_def=dg.multi_or_in_process_executor, instance=init_context.instance,
            executor_config={"multiprocess": {**config["multiprocess"], "start_method": STEP_PROCESS_START}}))
    else:
        inner = dg.multi_or_in_process_executor.executor_creation_fn(init_context)
    return _RunnerTaggingExecutor(inner)


class ShopverseRunLauncher(DefaultRunLauncher):
    """Dagster's default run launcher (run workers are subprocesses of the code location's gRPC
    server), whose run-worker health check fails a run when the process named by its
    ``shopverse/runner`` tag is gone. A run without the tag yet (its worker is still loading the
    code), or executed on another host, counts as running: only a process seen gone fails a run."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        message = gone_message(run, "the daemon's run monitoring")
        if message is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, message)
