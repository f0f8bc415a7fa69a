"""Celery steps whose worker died: taken again by another worker, or failed, never waited for for ever.

dagster-celery's executor submits each step as a task and polls its result every second until it is
ready. A worker that dies while it executes a step (its machine lost, the process group killed, an
OOM kill of the whole worker) never stores that task's result, and the run waited for it for ever,
also after a termination request (the executor then waits for the revoked tasks too). The task was
acknowledged when the worker started it, so the broker never hands it to another worker.

Here the executor's tasks are watched. Workers store a task's start with their name
(``task_track_started``, set by ``shopverse celery-worker``), and every ``CHECK_SECONDS`` the run asks
the broker which workers answer and what each is executing (one broadcast for all the run's tasks).
A started task whose worker has not answered for ``$SHOPVERSE_CELERY_WORKER_LOST_SECONDS`` (60) is
lost, and so is a queued one while every worker answers idle for as long (an idle worker takes a
queued task at once, so it is no longer in the queue): the step is submitted again, once, for
another worker to take (a step's writes are all-or-nothing and a rerun replaces what it wrote, so a
step the dead worker left half done is safe to execute again), and the run's log says which worker
and which step, under that step. Lost a second time, or queued while no worker at all answers for
as long, the step fails with that message (the steps that do not depend on it go on), and so does
the run: loudly, not for ever. So does a step whose task Celery records failed outside the step (its
process killed while the worker lives on: ``WorkerLostError``), where dagster-celery's loop, handed
the error, stopped submitting steps and waited for ever for those it had not submitted.

Workers started by ``shopverse celery-worker`` take a task only when they have a free process
(``--disable-prefetch``): a worker never holds a queued step it has not started, which a dead worker
would take with it and a busy one would keep from an idle one.

What is used of dagster-celery (its version pinned by uv.lock): its executor's loop
(``core_celery_execution_loop``), which calls ``step_execution_fn(app, context, step, queue,
priority, known_state)`` for each step and then only ``ready``, ``get`` and ``revoke`` of what it
returned, and its own submission of a step (``_submit_task``), called here unchanged.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable

from celery import Celery, states
from celery.exceptions import TaskRevokedError
from dagster_celery.core_execution_loop import core_celery_execution_loop
from dagster_celery.executor import CeleryExecutor, _submit_task
from dagster_shared.serdes import serialize_value
from shopverse_platform.defs.lineage.dagster_internals import SerializableErrorInfo, serializable_error_info_from_exc_info

log = logging.getLogger(__name__)

LOST_VARIABLE = "SHOPVERSE_CELERY_WORKER_LOST_SECONDS"
DEFAULT_LOST_SECONDS = 60.0
CHECK_SECONDS = 10.0  # how often the run asks which workers answer (at most; less when LOST_SECONDS is short)
ANSWER_SECONDS = 1.0  # how long one roll call waits for the workers' answers
RESUBMISSIONS = 1  # a step whose worker is lost is submitted again this many times, then it fails


class CeleryWorkerLost(RuntimeError):
    """A step's Celery worker stopped answering while it executed the step (or no worker answered
    while the step was queued), and the step was not taken again: the name its failure carries."""


def lost_after_seconds(environ: dict | None = None) -> float:
    """How long a step may look lost (its worker not answering the roll calls, or queued while every
    worker is idle) before it is submitted again, or fails."""
    value = (os.environ if environ is None else environ).get(LOST_VARIABLE, "")
    try:
        seconds = float(value) if value else DEFAULT_LOST_SECONDS
    except ValueError:
        raise ValueError(f"${LOST_VARIABLE} must be a number of seconds, not {value!r}") from None
    if seconds <= 0:
        raise ValueError(f"${LOST_VARIABLE} must be a number of seconds above 0, not {value!r}")
    return seconds


class WorkerRollCall:
    """The Celery workers that answer on the run's broker, each with the number of tasks it is
    executing: asked at most every ``every`` seconds (one broadcast, ``inspect().active()``, its
    answers collected for ``ANSWER_SECONDS``), shared by the run's tasks."""

    def __init__(self, app: Celery, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._app, self._every, self._clock = app, every, clock
        self._asked_at: float | None = None
        self._answering: dict[str, int] = {}

    def answering(self) -> tuple[dict[str, int], float]:
        """The workers that answered the latest roll call with how many tasks each was executing,
        and when it was asked (``clock``'s time)."""
        now = self._clock()
        if self._asked_at is None or now - self._asked_at >= self._every:
            try:
                replies = self._app.control.inspect(timeout=ANSWER_SECONDS).active() or {}
                self._answering = {name: len(tasks or []) for name, tasks in replies.items()}
            except Exception as error:  # noqa: BLE001 - a broker that cannot be reached: nobody answers
                log.warning("the Celery broker did not take the run's roll call: %s", error)
                self._answering = {}
            self._asked_at = now
        return self._answering, self._asked_at


class WatchedStepTask:
    """A step's Celery task as dagster-celery's execution loop uses it (``ready``, ``get``,
    ``revoke``), watched over ``lost_after`` seconds of roll calls. Started, and its worker does not
    answer: lost with the worker. Queued, and every worker answers idle: lost from the queue (with
    ``--disable-prefetch`` an idle worker takes a queued task at once; a broker restarted without
    its data, or a worker that received the task and died before starting it). Either way it is
    revoked and submitted again (``resubmissions`` times), then reported ready, its ``get`` the
    step's failure (``fail``, the error named ``CeleryWorkerLost``). Queued while no worker at all
    answers for as long: it fails without being submitted again (unless ``queued_may_wait``: a pool
    that starts its workers when tasks are queued)."""

    def __init__(self, step_key: str, submit: Callable[[], object], roll_call: WorkerRollCall, lost_after: float,
                 warn: Callable[[str], None], fail: Callable[[SerializableErrorInfo], list], *,
                 resubmissions: int = RESUBMISSIONS, queued_may_wait: bool = False) -> None:
        self._step_key, self._submit, self._roll_call, self._lost_after = step_key, submit, roll_call, lost_after
        self._warn, self._fail, self._resubmissions, self._queued_may_wait = warn, fail, resubmissions, queued_may_wait
        self._result = submit()
        self._seen_ask: float | None = None  # the roll call this task was last compared with
        self._silent_since: float | None = None  # the first roll call since which it has looked lost
        self._lost: str | None = None
        self._started_by: str | None = None  # the worker that started the task (None: queued)
        self._revoked = False

    def _status(self) -> str | None:
        """The task's state as the result backend tells it, read once a poll; the worker that started
        it (the start the worker reports, ``task_track_started``) kept until the task is submitted
        again. Kept, because an ``rpc://`` backend sends each state to the run as a message that one
        read consumes: the start was seen once, by whichever poll read the queue first, then the
        task looked queued again (a worker killed mid-step was taken for a lost queued step)."""
        meta = self._result.backend.get_task_meta(self._result.id)
        info = meta.get("result")
        if meta.get("status") == states.STARTED and isinstance(info, dict) and info.get("hostname"):
            self._started_by = info["hostname"]
        return meta.get("status")

    def _looks_lost(self, worker: str | None, answering: dict[str, int]) -> bool:
        if worker is not None:
            return worker not in answering
        if not answering:
            return not self._queued_may_wait
        return not any(answering.values())  # queued, yet every worker is idle

    def ready(self) -> bool:
        if self._lost is not None or self._status() in states.READY_STATES:
            return True
        answering, asked_at = self._roll_call.answering()
        if asked_at == self._seen_ask:
            return False  # nothing new since this task was last compared with the answers
        self._seen_ask = asked_at
        worker = self._started_by
        if not self._looks_lost(worker, answering):
            self._silent_since = None
            return False
        if self._silent_since is None:
            self._silent_since = asked_at
        silent = asked_at - self._silent_since
        if silent < self._lost_after:
            return False
        what_next = "Start `shopverse celery-worker` and re-execute the run's failed steps"
        if worker is None and not answering:
            self._lost = (f"step {self._step_key} waited {silent:.0f} s in the queue while no Celery worker answered on "
                          f"the broker (${LOST_VARIABLE}). {what_next}")
            return True
        if worker is not None:
            what = f"Celery worker {worker}, which was executing step {self._step_key}, has not answered for {silent:.0f} s"
        else:
            what = (f"step {self._step_key} has not been taken for {silent:.0f} s while every Celery worker "
                    f"({', '.join(sorted(answering))}) was idle: it is not in a queue they take from (a broker restarted "
                    "without its data, a worker that received it and died before starting it, or a queue no worker serves)")
        if self._resubmissions > 0 and not self._revoked:
            self._resubmissions -= 1
            self._warn(f"{what} (${LOST_VARIABLE}): the step is submitted again for another worker to take")
            self._result.revoke()  # should the lost task come back (Redis's visibility timeout), it is not executed
            self._result, self._silent_since, self._started_by = self._submit(), None, None
            return False
        self._lost = f"{what} (${LOST_VARIABLE}), and the step was not taken again. {what_next}"
        return True

    def get(self):
        """The step's events: its task's result; or, when the task failed outside the step's own
        handling (its process killed: Celery's WorkerLostError) or was lost, the step's failure (or
        retry, as its policy says), recorded by ``fail`` as Dagster's multiprocess executor records a
        crashed step process. Raised instead, dagster-celery's loop stopped submitting steps but
        waited for the ones it had not submitted, and the run hung."""
        if self._lost is not None:
            error = SerializableErrorInfo(self._lost, [], CeleryWorkerLost.__name__)
        else:
            try:
                return self._result.get()
            except TaskRevokedError:
                raise  # revoked on a termination request: the loop's own case
            except Exception:  # noqa: BLE001 - whatever ended the task, the step failed with it
                error = serializable_error_info_from_exc_info(sys.exc_info())
        return self._fail(error)

    def revoke(self) -> None:
        self._revoked = True
        self._result.revoke()


class WatchedCeleryExecutor(CeleryExecutor):
    """dagster-celery's executor, its tasks watched (``WatchedStepTask``) so that a step whose worker
    died is taken again or fails the run, where the run waited for it for ever. ``queued_may_wait``:
    the workers are started when tasks are queued, so a queued step waits for one however long."""

    def __init__(self, *, queued_may_wait: bool = False, **celery_executor_args) -> None:
        super().__init__(**celery_executor_args)
        self._queued_may_wait = queued_may_wait

    def execute(self, plan_context, execution_plan):
        lost_after = lost_after_seconds()
        queued_may_wait = self._queued_may_wait
        roll_call: list[WorkerRollCall] = []  # one for the run's tasks, on the app the loop makes (once a run)

        def submit(app, context, step, queue, priority, known_state) -> WatchedStepTask:
            if not roll_call:
                roll_call.append(WorkerRollCall(app, min(CHECK_SECONDS, lost_after / 3)))
            step_context = context.for_step(step)  # the warning and the failure under the step, in the UI

            def fail(error: SerializableErrorInfo) -> list:
                return [serialize_value(self.log_failure_or_retry_event_after_error(step_context, error, known_state))]

            return WatchedStepTask(step.key, lambda: _submit_task(app, context, step, queue, priority, known_state),
                                   roll_call[0], lost_after, step_context.log.warning, fail,
                                   queued_may_wait=queued_may_wait)

        return core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=submit)
