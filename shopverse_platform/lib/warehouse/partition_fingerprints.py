"""What each day of a clean table holds, kept by its writers: the changed days without a scan.

``sessions``, ``dim_products`` and ``dim_customers`` are updated from the days of ``clean_events``
and ``clean_order_lines`` that changed since they were last built. They used to find those days by
fingerprinting every day of both tables on every run (a hash of every row, one group per day): a
read of the whole history, every day, whose time and memory grew with it (at 9.7 M events of
history, ``dim_customers`` took 0.82 s and peaked at 735 MB against 0.35 s and 427 MB at 1 M; with
the fingerprints kept here, 0.45 s and 418 MB: bench/RESULTS.md, "Daily run against history").

Now the writers keep the fingerprints: whoever replaces or appends to days of a clean table
records, in the same transaction, each of those days' row count and an order-independent hash of
its rows (``bit_xor`` of the row hashes, so the same rows give the same fingerprint, whoever wrote
them and in what order: cleaning a day again unchanged changes nothing downstream). The consumers
read ``partition_fingerprints``, a row per table and day, instead of the tables.

A day written by something that does not record (a warehouse from before this table, a migration,
an analyst's fix) is caught at the partition level: before the fingerprints are read, the days
present in the table and the days fingerprinted are compared (one scan of the ``partition_date``
column, a few MB even at 10 M rows), and any day on one side only is fingerprinted again from the
table. A change inside an existing day made outside the platform's writers is not seen by itself:
delete that day's row of ``partition_fingerprints`` and the next run fingerprints the day again
from the table (docs/operations.md).
"""

from __future__ import annotations

from datetime import date

import duckdb

from shopverse_platform.lib.warehouse.sql import load_sql, table
from shopverse_platform.lib.warehouse.tables import create_table_if_missing, table_exists

FINGERPRINTED = ("clean_events", "clean_order_lines")


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    create_table_if_missing(con, "partition_fingerprints", load_sql(__file__, "partition_fingerprints_ddl"))


def record(con: duckdb.DuckDBPyConnection, table_name: str, start: date, end: date) -> None:
    """Fingerprint the days [start, end) of ``table_name`` as they are now (within the writer's
    transaction): days without rows lose their fingerprint. The writer calls :func:`ensure_table`
    before its transaction (a table is not created inside the transaction that fills it)."""
    _check(table_name)
    window = {"table_name": table_name, "start": start, "end": end}
    con.execute(load_sql(__file__, "partition_fingerprints_delete"), window)
    con.execute(load_sql(__file__, "partition_fingerprints_insert", target=table(table_name)), window)


def reconcile(con: duckdb.DuckDBPyConnection, table_name: str) -> int:
    """Fingerprint the days of ``table_name`` present on one side only (the table's days against
    the fingerprinted ones), so that ``partition_fingerprints`` describes every day the table has;
    returns how many. A consumer calls it before it reads the fingerprints (the first time, on a
    warehouse from before them, it fingerprints every day: one scan, once)."""
    _check(table_name)
    ensure_table(con)
    if not table_exists(con, table_name):
        con.execute(load_sql(__file__, "partition_fingerprints_drop_table"), {"table_name": table_name})
        return 0
    params = {"table_name": table_name}
    con.execute(load_sql(__file__, "partition_fingerprints_unmatched", target=table(table_name)), params)
    unmatched = con.execute("SELECT count(*) FROM _unmatched_partitions").fetchall()[0][0]
    if unmatched:
        con.execute(load_sql(__file__, "partition_fingerprints_delete_unmatched"), params)
        con.execute(load_sql(__file__, "partition_fingerprints_insert_unmatched", target=table(table_name)), params)
    con.execute("DROP TABLE temp.main._unmatched_partitions")  # by its full name, as tables.add_new_columns drops
    return int(unmatched)


def _check(table_name: str) -> None:
    # The table's name is spliced as an identifier: only the known clean tables.
    if table_name not in FINGERPRINTED:
        raise ValueError(f"{table_name!r} is not a fingerprinted table ({', '.join(FINGERPRINTED)})")

