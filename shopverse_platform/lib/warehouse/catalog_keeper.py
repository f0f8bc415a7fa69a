"""Keep a SQLite lake catalog open in a process of its own, so that no lake process is ever its last
connection: every process that attaches a SQLite lake starts one beside it, which ends with it
(``python -m shopverse_platform.lib.warehouse.catalog_keeper <catalog> --parent <pid>``, from
lib/warehouse/lake.py); ``shopverse warehouse keep-catalog-open`` holds one for as long as it runs
(`shopverse up` runs it beside the stack on a SQLite lake).

DuckDB's sqlite extension opens the catalog anew for every transaction and closes it after. When
the connection closing is the catalog's last one, SQLite checkpoints the whole write-ahead log and
deletes it under an exclusive lock, and a reader opening the catalog meanwhile is answered "busy":
the SQLite inside DuckDB's extension then sleeps a whole second before it tries again. A reader
beside a writer committing in a loop (session 24): 15 of 280 reads took 1.02-2.03 s, p95 1,022 ms;
with one more connection held open by another process, 1-2 of 480-491, p95 40-46 ms, and the
writer committed 745 times in 40 s instead of 537 (no log checkpointed, deleted and made again at
every commit). The connection held here reads nothing after its first query and holds no
transaction, so checkpoints still complete and the log does not grow.

Python's sqlite3 is used here on purpose: this process attaches no lake, so no lock of DuckDB's
SQLite can be lost by it (lib/warehouse/lake.py, above ``sqlite_catalog_created``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def open_without_creating(catalog: Path) -> sqlite3.Connection | None:
    """A connection to an existing catalog that has read its schema (so it holds the log's shared
    memory like any reader between transactions), or None when there is no catalog yet. Never
    creates the file: a catalog is a lake's first process's to create."""
    try:
        connection = sqlite3.connect(f"{catalog.as_uri()}?mode=rw", uri=True, timeout=30, isolation_level=None)
    except sqlite3.OperationalError:
        return None
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.Error as error:
        log.info("catalog %s not readable yet: %s", catalog, error)
        connection.close()
        return None
    return connection


def _identity(catalog: Path) -> tuple[int, int] | None:
    try:
        stat = catalog.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def keep_open(catalog: Path, stop: threading.Event, poll_seconds: float = 2.0,
              report: Callable[[str], None] = log.info, parent: int | None = None) -> None:
    """Hold ``catalog`` open until ``stop`` is set (or process ``parent`` is gone), waiting for it to
    be created if need be, and opening it again if it is replaced (a new lake at the same path);
    ``report`` says when."""
    connection, identity = None, None
    while not stop.is_set() and (parent is None or os.getppid() == parent):
        current = _identity(catalog)
        if connection is not None and current != identity:
            connection.close()  # this process attaches no lake: closing drops no lock of DuckDB's
            connection, identity = None, None
            report(f"catalog {catalog} replaced or removed: let go")
        if connection is None and current is not None:
            connection = open_without_creating(catalog)
            identity = current if connection is not None else None
            if connection is not None:
                report(f"holding catalog {catalog} open")
        stop.wait(poll_seconds)
    if connection is not None:
        connection.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="hold a SQLite lake catalog open while a process lives")
    parser.add_argument("catalog", type=Path)
    parser.add_argument("--parent", type=int, required=True, help="the lake process; gone, this one ends")
    args = parser.parse_args(argv)
    stop = threading.Event()
    # ended by its lake process: the connection closed, which checkpoints the log when it is the last
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    keep_open(args.catalog, stop, poll_seconds=0.5, parent=args.parent)


if __name__ == "__main__":
    main()
