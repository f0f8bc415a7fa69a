"""The watch on a run's Celery tasks (defs/automation/celery_steps.py) on its own: fake tasks and a
fake clock, so each rule is seen apart; test_celery_workers.py kills real workers."""

from __future__ import annotations

import re

import pytest

from shopverse_platform.defs.automation.celery_steps import WatchedStepTask, WorkerRollCall, lost_after_seconds


class FakeResult:
    """What the watch reads of a Celery AsyncResult: its backend's meta, get() and revoke().
    ``read_once``: each state is read once, as an ``rpc://`` backend hands its state messages out
    (a poll that reads the queue consumes them); then the task looks pending again."""

    def __init__(self, task_id: str, read_once: bool = False) -> None:
        self.id, self.done, self.meta, self.revoked = task_id, False, {"status": "PENDING", "result": None}, False
        self.error: Exception | None = None
        self.backend, self.read_once = self, read_once

    def get_task_meta(self, task_id: str) -> dict:
        assert task_id == self.id
        if self.done:
            return {"status": "FAILURE" if self.error is not None else "SUCCESS", "result": None}
        meta = self.meta
        if self.read_once:
            self.meta = {"status": "PENDING", "result": None}
        return meta

    def get(self):
        if self.error is not None:
            raise self.error
        return ["events"]

    def revoke(self) -> None:
        self.revoked = True


class FakeControl:
    """A broker's workers as a roll call sees them: ``answering`` names each live worker with the
    tasks it is executing (``inspect().active()``)."""

    def __init__(self) -> None:
        self.answering: dict[str, list] = {}
        self.pings = 0

    def inspect(self, timeout: float):
        control = self

        class Inspect:
            def active(self):
                control.pings += 1
                return {name: list(tasks) for name, tasks in control.answering.items()} or None

        return Inspect()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(request):
    control, clock = FakeControl(), Clock()
    app = type("App", (), {"control": control})()
    submitted: list[FakeResult] = []
    warnings: list[str] = []
    read_once = getattr(request, "param", False)  # the results' states read once, as from an rpc:// backend

    def submit() -> FakeResult:
        submitted.append(FakeResult(f"task-{len(submitted)}", read_once=read_once))
        return submitted[-1]

    roll_call = WorkerRollCall(app, every=2, clock=clock)  # one for the run's tasks, as the executor makes it

    def task(**kwargs) -> WatchedStepTask:
        # the step's failure as the executor records it (a STEP_FAILURE event), here its error as is
        return WatchedStepTask("orders", submit, roll_call, 6, warnings.append, lambda error: ["failed", error], **kwargs)

    return control, clock, submitted, warnings, task


def _tick(task: WatchedStepTask, clock: Clock, seconds: float) -> bool:
    """The execution loop's one-second ticks for ``seconds``: whether the task was ready at the end."""
    ready = False
    for _ in range(int(seconds)):
        clock.now += 1
        ready = task.ready()
    return ready


def test_a_started_step_whose_worker_stops_answering_is_submitted_again_then_fails(world):
    control, clock, submitted, warnings, make = world
    control.answering = {"w1@a": ["orders"], "w2@b": []}
    task = make()
    submitted[0].meta = {"status": "STARTED", "result": {"hostname": "w1@a", "pid": 7}}
    assert not _tick(task, clock, 30)  # w1 answers: however long the step takes
    assert len(submitted) == 1 and not warnings
    control.answering = {"w2@b": []}  # w1 gone
    assert not _tick(task, clock, 5)
    assert len(submitted) == 1
    assert not _tick(task, clock, 4)  # 6 s unanswered (the roll call every 2 s): submitted again
    assert len(submitted) == 2 and submitted[0].revoked and warnings == [
        "Celery worker w1@a, which was executing step orders, has not answered for 6 s "
        "($SHOPVERSE_CELERY_WORKER_LOST_SECONDS): the step is submitted again for another worker to take"]
    submitted[1].meta = {"status": "STARTED", "result": {"hostname": "w2@b", "pid": 8}}
    assert not _tick(task, clock, 20)
    control.answering = {}  # w2 gone too: not submitted a second time
    assert _tick(task, clock, 10)
    assert len(submitted) == 2
    failed, error = task.get()
    assert failed == "failed" and error.cls_name == "CeleryWorkerLost"
    assert re.match(r"^Celery worker w2@b, which was executing step orders, has not answered for \d+ s .*and the step "
                    r"was not taken again. Start `shopverse celery-worker`", error.message), error.message


@pytest.mark.parametrize("world", [True], indirect=True, ids=["rpc"])
def test_a_worker_seen_starting_a_step_once_is_remembered(world):
    """An ``rpc://`` backend sends a task's start to the run as a message that one read consumes:
    the next poll reads the task as pending. The worker that started it is remembered, so its death
    is a lost worker's (the step submitted again at once, named as its), not a step left queued
    while the other worker works (which waited for that one to go idle, and was named wrongly)."""
    control, clock, submitted, warnings, make = world
    control.answering = {"w1@a": ["orders"], "w2@b": ["sessions"]}
    task = make()
    submitted[0].meta = {"status": "STARTED", "result": {"hostname": "w1@a", "pid": 7}}
    assert not _tick(task, clock, 3)
    assert submitted[0].meta["status"] == "PENDING"  # its start was read, and is gone from the backend
    control.answering = {"w2@b": ["sessions"]}  # w1 gone; w2 busy with another step
    assert not _tick(task, clock, 9)
    assert len(submitted) == 2 and warnings[0].startswith("Celery worker w1@a, which was executing step orders, ")
    assert not _tick(task, clock, 20)  # the new task, queued while w2 works: it waits for w2
    assert len(submitted) == 2


def test_a_step_that_finishes_is_read_from_its_own_result(world):
    control, clock, submitted, warnings, make = world
    control.answering = {"w1@a": ["orders"]}
    task = make()
    submitted[0].meta = {"status": "STARTED", "result": {"hostname": "w1@a", "pid": 7}}
    assert not _tick(task, clock, 3)
    submitted[0].done = True
    assert task.ready() and task.get() == ["events"]
    task.revoke()
    assert submitted[0].revoked


def test_a_queued_step_fails_only_when_no_worker_answers(world):
    control, clock, submitted, warnings, make = world
    control.answering = {"w1@a": ["sessions"]}  # busy with another step: a queued step waits for it
    task = make()
    assert not _tick(task, clock, 60)
    control.answering = {}
    assert not _tick(task, clock, 5)
    assert _tick(task, clock, 4)
    assert len(submitted) == 1 and not warnings  # nothing to take it: not submitted again
    assert task.get()[1].message.startswith("step orders waited 6 s in the queue while no Celery worker answered")


def test_a_queued_step_that_idle_workers_do_not_take_is_submitted_again_then_fails(world):
    """Every worker answers idle while the step stays queued: it is not in the broker's queue any
    more (an idle worker takes a queued task at once). Revoked, submitted again; then it fails."""
    control, clock, submitted, warnings, make = world
    control.answering = {"w1@a": [], "w2@b": ["sessions"]}
    task = make()
    assert not _tick(task, clock, 30)  # w2 busy: the step may be queued behind it
    control.answering = {"w1@a": [], "w2@b": []}
    assert not _tick(task, clock, 9)
    assert len(submitted) == 2 and submitted[0].revoked
    assert warnings == ["step orders has not been taken for 6 s while every Celery worker (w1@a, w2@b) was idle: it is "
                        "not in a queue they take from (a broker restarted without its data, a worker that received it "
                        "and died before starting it, or a queue no worker serves) ($SHOPVERSE_CELERY_WORKER_LOST_SECONDS): "
                        "the step is submitted again for another worker to take"]
    assert _tick(task, clock, 10)
    assert task.get()[1].message.startswith("step orders has not been taken for 6 s while every Celery worker")


def test_a_queued_step_waits_for_workers_started_on_demand(world):
    control, clock, submitted, warnings, make = world
    task = make(queued_may_wait=True)  # $SHOPVERSE_CELERY_WORKER_CHECK=0: workers started when tasks are queued
    assert not _tick(task, clock, 120)
    assert len(submitted) == 1


def test_the_workers_are_asked_once_per_roll_call_for_all_tasks(world):
    control, clock, submitted, warnings, make = world
    control.answering = {"w1@a": ["sessions"]}
    tasks = [make() for _ in range(5)]
    pings = control.pings
    for _ in range(10):  # 10 s of the loop's ticks over 5 tasks: one roll call every 2 s for them all
        clock.now += 1
        for task in tasks:
            task.ready()
    assert control.pings - pings == 5


def test_the_lost_after_setting_is_read_and_checked():
    assert lost_after_seconds({}) == 60
    assert lost_after_seconds({"SHOPVERSE_CELERY_WORKER_LOST_SECONDS": "4.5"}) == 4.5
    for wrong in ("soon", "0", "-3"):
        with pytest.raises(ValueError, match="SHOPVERSE_CELERY_WORKER_LOST_SECONDS must be a number of seconds"):
            lost_after_seconds({"SHOPVERSE_CELERY_WORKER_LOST_SECONDS": wrong})


def test_a_task_that_failed_outside_its_step_is_the_steps_failure(world):
    """A task Celery records failed (its process killed: WorkerLostError) is the step's failure, for
    the run to go on with the steps that do not depend on it; a revoked one stays the loop's own."""
    from billiard.exceptions import WorkerLostError
    from celery.exceptions import TaskRevokedError

    control, clock, submitted, warnings, make = world
    control.answering = {"w1@a": []}
    task = make()
    submitted[0].done, submitted[0].error = True, WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL) Job: 0.")
    assert task.ready()
    failed, error = task.get()
    assert failed == "failed" and error.cls_name == "WorkerLostError" and "signal 9" in error.message
    revoked = make()
    submitted[1].done, submitted[1].error = True, TaskRevokedError("revoked")
    with pytest.raises(TaskRevokedError):
        revoked.get()
