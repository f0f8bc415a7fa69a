"""Cleaning rules as DuckDB SQL: typing, UTC normalisation, quarantine, deduplication, sessions.

Shop events here; order-export lines in ``lib/order_cleaning``. Pure SQL builders and one
function per table, no Dagster objects. Every raw row ends in exactly one
place: the clean table, the quarantine with a reason code, or the quarantine as a duplicate
(reason ``duplicate_event``/``duplicate_line``), which the reconciliation checks rely on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pyarrow as pa

from shopverse_platform.lib.cleaning.event_schema import (
    EVENT_STRUCTURE,
    EVENT_TYPES,
    ITEM_EVENTS,
    LEGACY_EVENT_NAMES,
    MAX_ITEM_QUANTITY,
    MAX_MONEY,
    MONETARY_EVENTS,
)
from shopverse_platform.lib.warehouse.shapes import ITEMS_TYPE
from shopverse_platform.lib.warehouse import partition_fingerprints
from shopverse_platform.lib.warehouse.sql import SqlText, TableName, load_sql, table
from shopverse_platform.lib.warehouse.tables import (
    create_table_if_missing,
    replace_date_range,
    schema_if_exists,
    table_exists,
    transaction,
)

SESSION_TIMEOUT_MINUTES = 30
# What a cleaning transaction writes: on a lake with a PostgreSQL catalog it takes these tables'
# write turns, so two partitions cleaned at once (or the order lines' cleaning, which writes the
# quarantine too) queue instead of failing the later commit (lib/warehouse/write_turns.py).
CLEANING_WRITES = ("clean_events", "quarantine", "cleaned_landing_files", "partition_fingerprints")

@dataclass(frozen=True)
class EventRules:
    """Tolerances for event timestamps relative to the landing day they arrived in."""

    future_tolerance_hours: int = 24
    max_lateness_days: int = 30


def clean_event_lines(
    con: duckdb.DuckDBPyConnection, chunks: Iterable[tuple[date, date, pa.Table]], rules: EventRules,
) -> dict[str, int]:
    """Replace the clean events and the events quarantine of a window from landing lines.

    ``chunks`` yields (first day, day after the last, lines) for consecutive groups of whole days
    that tile the window, in delivery order, with lines shaped like ``landing.EVENT_LINE_SCHEMA``.
    Each group is cleaned and replaced in its own transaction before the next is read, so memory is
    bounded by a group, not by the window (1M events: 1.9 GB peak in one transaction, 1.3 GB in
    256 MB groups), and every day is all or nothing. If a group fails, the groups before it stay
    replaced and the rest keep their previous rows; rerunning the window makes it whole. Returns
    the outcome counts by reason ('clean' for kept rows).

    A landing file ``raw_events`` registered with a ``rejected_reason`` (unreadable, not an event
    file, a link out of the landing zone) has no lines here: it becomes one quarantine record
    naming it, written from the registry in its group's transaction (the raw layer counted it as
    one line, so the reconciliation holds).
    """
    create_table_if_missing(con, "quarantine", load_sql(__file__, "quarantine_ddl"))
    con.execute(load_sql(__file__, "quarantine_migrate"))  # a warehouse from before raw_bytes
    # a registry written before rejected_reason existed registered no rejected file
    rejected_files = "rejected_reason" in dict(schema_if_exists(con, "raw_events") or ())
    # outside the transaction: see lib/warehouse.replace_date_range. ITEMS_TYPE is a type written
    # in lib/warehouse/shapes.py (no value in it), which is why it may be spliced as SqlText.
    create_table_if_missing(con, "clean_events", load_sql(__file__, "clean_events_ddl", items_type=SqlText(ITEMS_TYPE)))
    con.execute(load_sql(__file__, "unordered_inserts"))
    create_table_if_missing(con, "cleaned_landing_files", load_sql(__file__, "cleaned_landing_files_ddl"))
    partition_fingerprints.ensure_table(con)
    outcome: dict[str, int] = {}
    for chunk_start, chunk_end, lines in chunks:
        con.register("_landed_lines", lines)
        del lines  # DuckDB holds it until unregistered: one group's lines in memory at a time
        try:
            # Parsing reads the landed lines only (0.78 s of the transaction's 1.27 s when it was
            # inside: a 3-day group at 40k visitors), so it runs before the transaction: the tables'
            # write turns are held for the deduplication against the stored history, the sessions
            # and the writes, not for the parse (lib/warehouse/write_turns.py).
            _parse_events(con, chunk_start, chunk_end, rules)
            with transaction(con, writes=CLEANING_WRITES):
                window = {"start": chunk_start, "end": chunk_end}
                con.execute(load_sql(__file__, "delete_window", target=table("clean_events")), window)
                con.execute(load_sql(__file__, "delete_quarantine_window"), {**window, "source": "events"})
                _mark_duplicate_events(con, chunk_start, chunk_end, rules)
                con.unregister("_landed_lines")  # the last use of the lines: free them before the write
                _sessionise(con, chunk_start)
                _write_events(con)
                counts = con.execute(load_sql(__file__, "outcome_counts", outcome=table("_parsed_events"))).fetchall()
                if rejected_files:
                    con.execute(load_sql(__file__, "rejected_files"), window)
                    con.execute(load_sql(__file__, "quarantine_rejected_files"))
                    counts += con.execute(load_sql(__file__, "outcome_counts", outcome=table("_rejected_files"))).fetchall()
                _record_cleaned_files(con, window, rules, rebuilt=rejected_files)
                partition_fingerprints.record(con, "clean_events", chunk_start, chunk_end)
        except BaseException:  # rolled back by transaction(); the lines freed too
            con.unregister("_landed_lines")
            raise
        for work in ("_parsed_events", "_duplicate_lines", "_sessionised") + (("_rejected_files",) if rejected_files else ()):
            con.execute(load_sql(__file__, "drop_work_table", work=table(work)))
        for reason, count in counts:
            outcome[reason] = outcome.get(reason, 0) + int(count)
    return outcome


def _parse_events(con: duckdb.DuckDBPyConnection, start: date, end: date, rules: EventRules) -> None:
    """Parse ``_landed_lines`` into the temp table ``_parsed_events``: typed fields and either a NULL
    ``reason_code`` (valid so far) or the first rule the line breaks. The verbatim line is kept
    only for rejected rows (it goes to the quarantine); clean rows point at it by file and line."""
    con.execute(
        load_sql(__file__, "parsed_events"),
        {
            "start": start, "end": end, "structure": json.dumps(EVENT_STRUCTURE),
            "legacy_names": list(LEGACY_EVENT_NAMES), "legacy_targets": list(LEGACY_EVENT_NAMES.values()),
            "event_types": list(EVENT_TYPES), "item_events": list(ITEM_EVENTS),
            "monetary_events": list(MONETARY_EVENTS), "max_money": MAX_MONEY, "max_quantity": MAX_ITEM_QUANTITY,
            "future_tolerance_hours": rules.future_tolerance_hours, "max_lateness_days": rules.max_lateness_days,
        },
    )


def history_start(start: date, rules: EventRules) -> date:
    """The earliest landing day that can hold an earlier delivery of an event landing on or after
    ``start``: a re-delivery passes only if stamped at most ``max_lateness_days`` before its landing
    day, and the first delivery landed at most a day plus the future tolerance after the stamp."""
    return start - timedelta(days=rules.max_lateness_days + 2 + math.ceil(rules.future_tolerance_hours / 24))


def history_end(end: date, rules: EventRules) -> date:
    """The day after the latest landing day that can hold another delivery of an event landing
    before ``end``: ``history_start`` seen from the other side."""
    return end + (end - history_start(end, rules))


def _mark_duplicate_events(con: duckdb.DuckDBPyConnection, start: date, end: date, rules: EventRules) -> None:
    """Re-deliveries of an event become ``duplicate_event``: a later line of the same event_id in
    these days (the first delivery by landing day, file and line wins), or an event_id already
    clean on another day, earlier or later. A copy clean on a later day stays clean: the window
    being cleaned may only replace its own days, so a late file on an earlier day that re-delivers
    it holds the duplicate. clean_events thus never holds an event_id twice, whatever order the
    days are cleaned in, and re-cleaning a day gives the same rows. Their verbatim lines are
    fetched for the quarantine."""
    con.execute(load_sql(__file__, "duplicate_lines"), {
        "replaced_start": start, "replaced_end": end, "history": history_start(start, rules),
        "history_end": history_end(end, rules),
    })
    con.execute(load_sql(__file__, "mark_duplicate_events"))


def _session_rule(needs: TableName | SqlText) -> SqlText:
    """The session rule's CTEs (session_rule.sql) over ``needs``: one rule for a whole window and
    for a day's appended lines."""
    return load_sql(__file__, "session_rule", needs=needs)


def _sessionise(con: duckdb.DuckDBPyConnection, start: date) -> None:
    """Session ids for valid events the tracker sent without one, into ``_sessionised``: a new
    session starts after 30 minutes of inactivity per device. The id hashes the device and the
    session's first event, so reruns give the same ids; a session continuing from the previous
    day keeps that day's id."""
    con.execute(load_sql(__file__, "sessionised", session_rule=_session_rule(SqlText("needs"))),
                {"start": start, "session_timeout_minutes": SESSION_TIMEOUT_MINUTES})


def _write_events(con: duckdb.DuckDBPyConnection) -> None:
    """Append the clean rows and the quarantined rows of ``_parsed_events``."""
    con.execute(load_sql(__file__, "insert_clean_events"))
    con.execute(load_sql(__file__, "quarantine_events"))


def reconcile(con: duckdb.DuckDBPyConnection, source: str, start: date, end: date) -> dict[str, int]:
    """Count raw, clean, quarantined and duplicate rows of [start, end) from the stored tables.

    Raw events are the lines the raw layer counted in the landing files it registered
    (``raw_events.line_count``); raw orders are the rows of ``raw_orders``.
    """
    raw_rows, clean_table, duplicate_reason = {
        "events": ("raw_event_lines", "clean_events", "duplicate_event"),
        "orders": ("raw_order_lines", "clean_order_lines", "duplicate_line"),
    }[source]
    raw, clean, quarantined, duplicates = con.execute(
        load_sql(__file__, "reconciliation", raw_rows=load_sql(__file__, raw_rows), clean=table(clean_table)),
        {"start": start, "end": end, "source": source, "duplicate_reason": duplicate_reason},
    ).fetchone()
    return {"raw": int(raw), "clean": clean, "quarantined": quarantined, "duplicates": duplicates}


# ------------------------------------------------------------------ a day that only grew
def event_days_outside(con: duckdb.DuckDBPyConnection, start: date, end: date,
                       files: list[str] | None = None) -> list[date]:
    """The event days, outside [start, end), of the events landed in [start, end) (of ``files``
    only, when given): the days whose metrics (by event_date) are stale until rebuilt (the
    late-events sensor rebuilds them)."""
    rows = con.execute(load_sql(__file__, "event_days_outside"), {"start": start, "end": end, "files": files}).fetchall()
    return [day for (day,) in rows]


def _rules_params(rules: EventRules) -> dict[str, int]:
    return {"future_tolerance_hours": rules.future_tolerance_hours, "max_lateness_days": rules.max_lateness_days}


def _record_cleaned_files(con: duckdb.DuckDBPyConnection, window: dict, rules: EventRules, *, rebuilt: bool) -> None:
    """Record the window's registered files as cleaned (``cleaned_landing_files``), replacing its
    records. A registry from before ``rejected_reason`` leaves the window unrecorded: its next run
    rebuilds it."""
    con.execute(load_sql(__file__, "delete_cleaned_files_window"), window)
    if rebuilt:
        con.execute(load_sql(__file__, "record_cleaned_files"), {**window, **_rules_params(rules), "after": None})


def appended_files(con: duckdb.DuckDBPyConnection, registered: list, start: date, end: date,
                   rules: EventRules) -> list | None:
    """The registered landing files (``landing.LandingFile``, sorted by path) of the one-day window
    [start, end) that clean_events has not cleaned yet, when the day only grew since it was cleaned:
    every file cleaned is still registered with the same fingerprint, it was cleaned with the same
    rules, and every new file sorts after all of them by path. None otherwise (several days, nothing
    recorded as cleaned, a file changed or gone, a new file sorting before a cleaned one): the
    window is then cleaned whole (``clean_event_lines``). Under that condition cleaning only the new
    files gives the rows of a whole-day rebuild (see ``clean_appended_lines``)."""
    if end - start != timedelta(days=1) or not table_exists(con, "cleaned_landing_files"):
        return None
    cleaned = con.execute(load_sql(__file__, "cleaned_files_of_day"), {"start": start, "end": end}).fetchall()
    if not cleaned:
        return None
    wanted = (rules.future_tolerance_hours, rules.max_lateness_days)
    now = {f.path: (f.size_bytes, f.modified_ns, f.rejected_reason) for f in registered}
    for path, size, modified_ns, reason, future_hours, lateness_days in cleaned:
        if now.get(path) != (size, modified_ns, reason) or (future_hours, lateness_days) != wanted:
            return None
    last_cleaned = max(row[0] for row in cleaned)
    cleaned_paths = {row[0] for row in cleaned}
    new = [f for f in registered if f.path not in cleaned_paths]
    if any(f.path <= last_cleaned for f in new):
        return None
    return new


def clean_appended_lines(con: duckdb.DuckDBPyConnection, start: date, end: date, after: str, lines: pa.Table,
                         rules: EventRules) -> dict[str, int]:
    """Clean the lines of the files appended to the one-day window [start, end) (all sorting after
    ``after``, the last file cleaned before) and append them, in one transaction: clean rows to
    ``clean_events``, rejects and re-deliveries to ``quarantine``, one record per new file
    ``raw_events`` registered as not read. The rules are those of ``clean_event_lines``: a new line
    is a duplicate when its event_id is clean on any day of the deduplication horizon (this day
    included: its clean rows come from earlier files) or comes earlier among the new lines; the
    platform sessions of the new events' devices are computed again over the whole day, and the
    stored rows whose session changed are updated. The day's rows are then those of a whole-day
    rebuild. Returns the new lines' outcome counts by reason."""
    window = {"start": start, "end": end}
    con.execute(load_sql(__file__, "unordered_inserts"))
    partition_fingerprints.ensure_table(con)
    con.register("_landed_lines", lines)
    registered = True
    del lines
    try:
        _parse_events(con, start, end, rules)  # outside the turns, as in clean_event_lines
        with transaction(con, writes=CLEANING_WRITES):
            # nothing is replaced: the day's clean rows count as earlier deliveries too
            con.execute(load_sql(__file__, "duplicate_lines"), {
                "replaced_start": start, "replaced_end": start, "history": history_start(start, rules),
                "history_end": history_end(end, rules)})
            con.execute(load_sql(__file__, "mark_duplicate_events"))
            con.unregister("_landed_lines")
            registered = False
            session = {**window, "session_timeout_minutes": SESSION_TIMEOUT_MINUTES}
            con.execute(load_sql(__file__, "session_needs_appended"), session)
            con.execute(load_sql(__file__, "session_ids_appended", session_rule=_session_rule(table("_session_needs"))),
                        {"session_timeout_minutes": SESSION_TIMEOUT_MINUTES})
            con.execute(load_sql(__file__, "sessionised_appended"))
            con.execute(load_sql(__file__, "resessionised"))
            con.execute(load_sql(__file__, "update_resessionised"), window)
            _write_events(con)
            counts = con.execute(load_sql(__file__, "outcome_counts", outcome=table("_parsed_events"))).fetchall()
            con.execute(load_sql(__file__, "rejected_files_appended"), {**window, "after": after})
            con.execute(load_sql(__file__, "quarantine_rejected_files"))
            counts += con.execute(load_sql(__file__, "outcome_counts", outcome=table("_rejected_files"))).fetchall()
            con.execute(load_sql(__file__, "record_cleaned_files"), {**window, **_rules_params(rules), "after": after})
            partition_fingerprints.record(con, "clean_events", start, end)
    except BaseException:  # rolled back by transaction(); the lines freed too
        if registered:
            con.unregister("_landed_lines")
        raise
    for work in ("_parsed_events", "_duplicate_lines", "_session_needs", "_session_ids", "_sessionised",
                 "_resessionised", "_rejected_files"):
        con.execute(load_sql(__file__, "drop_work_table", work=table(work)))
    outcome: dict[str, int] = {}
    for reason, count in counts:
        outcome[reason] = outcome.get(reason, 0) + int(count)
    return outcome


__all__ = [
    "EventRules",
    "appended_files",
    "clean_appended_lines",
    "clean_event_lines",
    "reconcile",
    "replace_date_range",
]
