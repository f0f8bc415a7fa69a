"""Appending a day's new landing files to the raw layer's registry instead of re-registering the day.

The freshness path (docs/operations.md) re-runs the day in progress every minute or so while the
collector adds a batch file every 30 s. Re-counting the lines of every file of the day at each run
would cost a whole-day pass per minute; when the day only grew (``landing.appended_files``), only
the new files are counted and appended. Anything else rebuilds the day as before.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pyarrow as pa

from shopverse_platform.lib.ingestion import landing
from shopverse_platform.lib.warehouse.sql import load_sql
from shopverse_platform.lib.warehouse.tables import add_new_columns, schema_if_exists, transaction

REGISTRY_COLUMNS = ("source_file", "size_bytes", "modified_ns", "rejected_reason")


def new_files_of_day(con: duckdb.DuckDBPyConnection, files: list[landing.LandingFile], start: date,
                     end: date) -> list[landing.LandingFile] | None:
    """The files to append for the one-day window [start, end), or None to rebuild it (a window of
    several days, no registry of the current layout, nothing registered for the day yet, or a day
    that did not only grow: see ``landing.appended_files``)."""
    if end - start != timedelta(days=1):
        return None
    if not set(REGISTRY_COLUMNS) <= dict(schema_if_exists(con, "raw_events") or ()).keys():
        return None  # no registry yet, the verbatim layout, or a registry from before rejected_reason: rebuilt
    rows = con.execute(load_sql(__file__, "raw_events_day_files"), {"start": start, "end": end}).fetchall()
    return landing.appended_files(files, rows)


def append_registry(con: duckdb.DuckDBPyConnection, registered: pa.Table) -> None:
    """Add the new files' registry rows (``landing.LANDED_FILE_SCHEMA``) to ``raw_events``, in one
    transaction, the table gaining any column a newer registry has (as ``replace_date_range`` does)."""
    con.register("_landed_files", registered)
    try:
        add_new_columns(con, "raw_events", "SELECT * FROM _landed_files", {})
        with transaction(con, writes=("raw_events",)):
            con.execute(load_sql(__file__, "append_raw_events"))
    finally:
        con.unregister("_landed_files")


def window_totals(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[str, int]:
    files, rejected, lines, blank, size = con.execute(
        load_sql(__file__, "raw_events_window_totals"), {"start": start, "end": end}).fetchone()
    return {"files": int(files), "files_quarantined": int(rejected), "lines": int(lines),
            "blank_lines": int(blank), "bytes": int(size)}
