"""A Redis broker (Debian's redis-server) and `shopverse celery-worker` processes on loopback: the
workers of the Celery tests (automation/test_celery_workers.py) and of `bench/concurrency.py`'s Celery
case. Each process is started in a session of its own and stopped by its PID's process group."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from shopverse_platform_tests.conftest import free_port, stop_process_group

REDIS_SERVER = "redis-server"
# What a worker's log shows once it takes tasks (Celery's "<name> ready."), and Redis's once it listens
WORKER_READY, REDIS_READY = " ready.", "Ready to accept connections"


def redis_available() -> bool:
    return shutil.which(REDIS_SERVER) is not None


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, logs: list[Path]) -> None:
    """Wait until ``predicate()`` holds; past ``timeout`` seconds, fail with the end of each log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} not ready in {timeout:.0f}s:\n" + "\n".join(
        f"--- {log}\n{log.read_text()[-2000:]}" for log in logs if log.exists()))


@contextmanager
def redis_and_workers(folder: Path, names: tuple[str, ...], env: Mapping[str, str],
                      cwd: Path | None = None) -> Iterator[tuple[str, list[Path], dict[str, subprocess.Popen]]]:
    """Redis on a free port (nothing persisted, its files in ``folder``) and a Celery worker for each
    of ``names`` (``w1@host``), run with ``env`` and the broker set. Yields the broker's URL, the logs
    (Redis's first, then each worker's, in ``folder``) and the workers' processes by name, once Redis
    listens and every worker is ready; stops them all when the block ends, workers first."""
    redis = shutil.which(REDIS_SERVER)
    if redis is None:
        raise FileNotFoundError(f"{REDIS_SERVER} is not installed (scripts/services/install.sh redis)")
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    processes: list[subprocess.Popen] = []
    logs = [folder / "redis.log", *(folder / f"{name.split('@')[0]}.log" for name in names)]
    try:
        with logs[0].open("w") as out:
            processes.append(subprocess.Popen(
                [redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(folder)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        wait_for(lambda: REDIS_READY in logs[0].read_text(), 30, REDIS_SERVER, logs)
        for name, log in zip(names, logs[1:]):
            with log.open("w") as out:
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "shopverse_platform.cli.main", "celery-worker", "--name", name],
                    stdout=out, stderr=subprocess.STDOUT, env={**env, "SHOPVERSE_CELERY_BROKER": broker}, cwd=cwd,
                    start_new_session=True))
        for log in logs[1:]:
            wait_for(lambda log=log: WORKER_READY in log.read_text(), 120, log.stem, logs)
        yield broker, logs, dict(zip(names, processes[1:]))
    finally:
        for process in reversed(processes):
            stop_process_group(process, timeout=30)
