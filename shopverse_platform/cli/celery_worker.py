"""`shopverse celery-worker`: a worker executing the steps of runs whose executor is Celery.

    export SHOPVERSE_CELERY_BROKER=redis://127.0.0.1:6379/0
    shopverse celery-worker --name w1 &         # as many as wanted, on any machine that sees the
    shopverse celery-worker --name w2 &         # warehouse (a DuckLake) and the Dagster instance

A run whose executor is ``celery`` (every run, when the code location has $SHOPVERSE_CELERY_BROKER
set) puts each step on the broker's ``dagster`` queue; a worker takes one at a time, loads the
code and executes it against the run's instance, as dagster-celery's own `dagster-celery worker
start` does; its pool's processes start with the code location imported and its definitions built
(``cli/celery_app.py``). This command is that worker with the broker taken from the environment, and it
becomes the Celery process (exec): its PID is the worker's, so it is stopped by that PID
(SIGTERM lets it finish its step). A worker that dies mid-step (its machine lost) is noticed by
the run, which submits the step again for another worker ($SHOPVERSE_CELERY_WORKER_LOST_SECONDS,
defs/automation/celery_steps.py).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from shopverse_platform.cli.arguments import add_command, positive_int

CONFIG_MODULE = "dagster_celery_config"  # the module dagster_celery.app reads its settings from
UNSTARTED_TASK_RETURNS_AFTER_SECONDS = 300


def add_celery_worker_command(subparsers: argparse._SubParsersAction) -> None:
    worker = add_command(subparsers, "celery-worker", "a Celery worker executing steps of runs (dagster-celery)", __doc__)
    worker.add_argument("--name", default=None, help="the worker's name (default: shopverse-<pid>@<host>)")
    worker.add_argument("--concurrency", type=positive_int, default=1, help="steps this worker executes at once")
    worker.add_argument("--loglevel", default="INFO", help="Celery's log level")
    worker.set_defaults(func=cmd_celery_worker)


def write_config_module(folder: Path, broker: str, backend: str) -> Path:
    """The settings module dagster_celery's app imports when present: the broker and the backend;
    ``task_track_started``: the worker stores a task's start with its name, which the run watches
    (defs/automation/celery_steps.py: a step whose worker stops answering is taken again); and a
    Redis broker's ``visibility_timeout``: a task a worker received but died before starting (it is
    acknowledged when it starts) goes back to the queue after that long, not after Redis's hour."""
    from dagster_celery.defaults import broker_transport_options

    folder.mkdir(parents=True, exist_ok=True)
    module = folder / f"{CONFIG_MODULE}.py"
    transport = {**broker_transport_options, "visibility_timeout": UNSTARTED_TASK_RETURNS_AFTER_SECONDS}
    module.write_text(f"broker_url = {broker!r}\nresult_backend = {backend!r}\ntask_track_started = True\n"
                      f"broker_transport_options = {transport!r}\n")
    return module


def worker_command(name: str, concurrency: int, loglevel: str) -> list[str]:
    celery = Path(sys.executable).parent / "celery"  # the venv's, as `shopverse ui` runs its dagster
    # --disable-prefetch: a task is taken only by a worker with a free process (Redis brokers), so a busy
    # worker never holds a queued step an idle one could start, nor takes it along when it dies
    return [str(celery), "-A", "shopverse_platform.cli.celery_app", "worker", "--prefetch-multiplier=1",
            "--disable-prefetch", "-Q", "dagster",
            "--concurrency", str(concurrency), "--loglevel", loglevel, "-n", name]


def cmd_celery_worker(args: argparse.Namespace) -> int:
    from shopverse_platform.cli.instance import use_embedded_instance
    from shopverse_platform.defs.automation.run_workers import celery_settings

    settings = celery_settings()
    if settings is None:
        print("set SHOPVERSE_CELERY_BROKER (e.g. redis://127.0.0.1:6379/0) to the broker the runs use")
        return 2
    home = Path(use_embedded_instance())
    folder = home / "celery" / f"worker-{os.getpid()}"
    write_config_module(folder, settings["broker"], settings["backend"])
    name = args.name or f"shopverse-{os.getpid()}@{socket.gethostname()}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)}
    print(f"celery worker {name}: broker {settings['broker']}, DAGSTER_HOME {home}", flush=True)
    command = worker_command(name, args.concurrency, args.loglevel)
    os.execve(command[0], command, env)  # this process becomes the worker: its PID stops it
    return 0  # pragma: no cover
