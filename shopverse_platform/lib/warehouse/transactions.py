"""Transactions on the warehouse: all or nothing, and on a DuckLake done again whole when the
commit met another process's. Below ``tables`` and ``column_docs``, which both write through them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import duckdb

from shopverse_platform.lib.warehouse.lake import retry_contention
from shopverse_platform.lib.warehouse.write_turns import write_turn

T = TypeVar("T")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection, writes: Iterable[str] = ()) -> Iterator[None]:
    """BEGIN, the block, COMMIT: all or nothing. Any error, the COMMIT's own included, rolls the
    transaction back (``rollback``) and propagates. On a lake the whole of it runs in the lake's
    write turn (``write_turns``): with a SQLite catalog one writing transaction at a time, queued,
    as SQLite refuses the later commit of any two that overlap; with PostgreSQL, one at a time per
    table of ``writes`` (the tables the block writes; naming none, it stays optimistic there)."""
    with write_turn(con, writes):
        con.execute("BEGIN TRANSACTION")
        try:
            yield
            con.execute("COMMIT")
        except BaseException:
            rollback(con)
            raise


def in_transaction(con: duckdb.DuckDBPyConnection, work: Callable[[], T], writes: Iterable[str] = ()) -> T:
    """``work()`` in one transaction (:func:`transaction`, ``writes`` the tables it writes), done
    again whole when its commit met another process's on a DuckLake (``retry_contention``: a step
    beside it in ``--workers`` or on a Celery worker) instead of failing the step, which Dagster then
    ran again in a new process. ``work`` must read everything it depends on itself: a retry sees the
    other process's commit."""
    writes = tuple(writes)

    def attempt() -> T:
        with transaction(con, writes):
            return work()

    return retry_contention(attempt)


def schema_change(con: duckdb.DuckDBPyConnection, sql: str, params: object = None, *,
                  table: str | None = None) -> duckdb.DuckDBPyConnection:
    """Run ``sql``, a statement that changes the warehouse's schema on its own, outside any
    transaction (a table created empty before the transaction that fills it, a column added), in
    the lake's write turn (``write_turns``; on PostgreSQL that of ``table``, the table it creates or
    alters, whose writers' commits it would fail). It commits by itself, and on a SQLite lake a commit
    beside another process's transaction makes that one's commit fail: two workers on a new lake
    redid clean_events' whole 6 s transaction, refused after clean_order_lines created its tables
    beside it (bench/concurrency.py, session 25)."""
    with write_turn(con, () if table is None else (table,)):
        return con.execute(sql) if params is None else con.execute(sql, params)


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, in an ``except`` around BEGIN...COMMIT. A failed COMMIT has
    already ended it (on a DuckLake, a commit that met another process's): a plain ROLLBACK would
    then raise "no transaction is active" and hide why the commit failed."""
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:
        pass
