"""One process at a time on the warehouse file, enforced by the operating system.

DuckDB admits one writing process per file, and no reader beside it; a second process that opens
the file fails at once with ``IOException: Could not set lock on file``. The run queue keeps the
daemon's runs one at a time, but a ``shopverse run`` started beside another one, or beside a run
of the UI, checked "is anything running?" and then started: check-then-act, and one of them failed.

Every connection the platform opens goes through :func:`warehouse_lock` first: an exclusive
``flock`` on ``<warehouse>.lock``, taken atomically by the kernel and released when the process
ends, whatever way it ends. A second process waits its turn and says for whom it waits (the holder
writes its PID and command line into the lock file). Inside a process the lock is re-entrant, so
nested connections (a check reading while its asset writes) do not wait for themselves.

Processes outside the platform (a notebook, a BI tool) do not take this lock; for them
:func:`connect_with_retry` retries DuckDB's own lock error for a bounded time and then names the
process DuckDB reports as the holder.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


class WarehouseBusy(duckdb.IOException):
    """Another process held the warehouse for longer than this caller would wait. A DuckDB
    ``IOException`` whose message says "lock", like DuckDB's own, so callers that handle a locked
    file (the alert writer spools its row) handle this one the same way."""


_held: dict[Path, tuple[int, int]] = {}  # lock path -> (file descriptor, depth) held by this process
_guard = threading.RLock()


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "another process"
    except OSError:
        return "another process"


@contextmanager
def warehouse_lock(database: Path, *, timeout: float = 3600.0, poll: float = 0.2,
                   say: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> Iterator[None]:
    """Hold the warehouse's process lock for the block, waiting up to ``timeout`` seconds for it."""
    path = lock_path(database)
    with _guard:
        if path in _held:
            descriptor, depth = _held[path]
            _held[path] = (descriptor, depth + 1)
            reentered = True
        else:
            reentered = False
    if not reentered:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(descriptor)
                    raise WarehouseBusy(f"the warehouse lock {path} is held by {_holder(path)} "
                                        f"(waited {timeout:.0f} s)")
                if not announced:
                    say(f"waiting for the warehouse {database}: it is in use by {_holder(path)}")
                    announced = True
                time.sleep(poll)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()} ({' '.join(sys.argv)[:200]})\n".encode(), 0)
        with _guard:
            _held[path] = (descriptor, 1)
    try:
        yield
    finally:
        with _guard:
            descriptor, depth = _held[path]
            if depth > 1:
                _held[path] = (descriptor, depth - 1)
            else:
                del _held[path]
                os.ftruncate(descriptor, 0)
                os.close(descriptor)  # closing the only descriptor releases the flock


def connect_with_retry(database: Path, *, read_only: bool, config: dict, timeout: float = 60.0, poll: float = 0.5,
                       say: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, retrying while a process outside the platform holds DuckDB's own file lock."""
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        try:
            return duckdb.connect(str(database), read_only=read_only, config=config)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            if time.monotonic() >= deadline:
                raise duckdb.IOException(
                    f"{error}\nThe warehouse is held by a process outside the platform (a notebook or BI tool "
                    f"connected to {database}?); close it, or query through `shopverse`, and run again."
                ) from error
            if not announced:
                say(f"waiting up to {timeout:.0f} s for the warehouse {database}: {str(error).splitlines()[0]}")
                announced = True
            time.sleep(poll)
