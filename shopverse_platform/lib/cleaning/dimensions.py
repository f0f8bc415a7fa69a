"""Whole-history tables built from the clean layer: sessions and the product/customer dimensions."""

from __future__ import annotations

from pathlib import Path

import duckdb

from shopverse_platform.lib.warehouse import partition_fingerprints
from shopverse_platform.lib.warehouse.column_docs import comment_columns, comment_tables, write_comments
from shopverse_platform.lib.warehouse.shapes import relation
from shopverse_platform.lib.warehouse.sql import SqlText, TableName, load_sql, table
from shopverse_platform.lib.warehouse.tables import (
    IncrementalBuild,
    create_table_if_missing,
    in_transaction,
    rebuild_table,
    stored_state_matches,
    table_exists,
)

# Funnel steps in order; a session "reached" a step if it has the event (ordering is enforced in
# the metric layer, which needs it; here the flags describe what happened).
FUNNEL_FLAGS = {
    "viewed_item": "view_item",
    "added_to_cart": "add_to_cart",
    "began_checkout": "begin_checkout",
    "added_payment_info": "add_payment_info",
    "purchased": "purchase",
}


# A session is a bot (scripted client), not a visitor, when it sends at least BOT_MIN_EVENTS events
# at BOT_EVENTS_PER_MINUTE or more: one every two seconds, sustained, is beyond human browsing
# (the busiest human sessions of the simulator stay under 10 a minute). Defined here, with the
# sessions, and used by the metric layer and the visitor segments.
BOT_MIN_EVENTS = 30
BOT_EVENTS_PER_MINUTE = 30.0
# A session of at least this many events is "busy": the population whose events per minute the
# anomalies judge (hyperactive sessions), kept in ``busy_sessions``. Every bot must be one of them.
BUSY_SESSION_MIN_EVENTS = 10
assert BOT_MIN_EVENTS >= BUSY_SESSION_MIN_EVENTS, "busy_sessions must hold every bot"
# The tables build_sessions keeps, in one transaction: sessions first (the one its query fills),
# then its state, then the running aggregates over it that the anomalies read.
SESSION_TABLES = ("sessions", "sessions_sources", "session_partitions", "session_hours", "busy_sessions")


def events_per_minute_sql(events: str, first_ts: str, last_ts: str) -> str:
    """Events per active minute as SQL, from a session's event count and first/last timestamps
    (millisecond precision; a session shorter than a minute counts as one minute)."""
    return f"({events} / greatest(date_diff('millisecond', {first_ts}, {last_ts}) / 60000.0, 1.0))"


def bot_rule_sql(events: str, first_ts: str, last_ts: str) -> str:
    """The bot rule as a SQL condition over a session's event count and first/last timestamps."""
    return (f"({events} >= {BOT_MIN_EVENTS} AND {events_per_minute_sql(events, first_ts, last_ts)} "
            f">= {BOT_EVENTS_PER_MINUTE})")


def _source(con: duckdb.DuckDBPyConnection, name: str) -> TableName | SqlText:
    """A clean table as a part for :func:`load_sql`: the table, or, when it was never built, the
    empty relation of its shape (fixed text of ``lib/warehouse/shapes.py``, no value in it)."""
    found = relation(con, name)
    return table(name) if found == name else SqlText(found)


def _partitioned_source(con: duckdb.DuckDBPyConnection, name: str) -> TableName | SqlText:
    """:func:`_source` with the partition column the dimensions' fingerprints group by, which the
    empty shapes (lib/warehouse/shapes.py, fixed text) do not carry."""
    found = _source(con, name)
    return found if isinstance(found, TableName) else SqlText(f"(SELECT *, NULL::DATE AS partition_date FROM {found})")


def sessions_query(events: TableName | SqlText) -> SqlText:
    """sessions.sql over ``events`` (the whole of clean_events, or the events of some sessions)."""
    # The two rules are code-made from these column expressions and this module's constants (no
    # value from outside), so they may be spliced; the funnel events are bound, one per flag.
    return load_sql(
        __file__, "sessions", events=events,
        events_per_minute=SqlText(events_per_minute_sql("count(*)", "min(event_ts)", "max(event_ts)")),
        bot_rule=SqlText(bot_rule_sql("count(*)", "min(event_ts)", "max(event_ts)")),
    )


def build_sessions(con: duckdb.DuckDBPyConnection, full: bool = False) -> str:
    """Bring ``sessions`` up to date with ``clean_events``; returns what was done (the ``mode``).

    Incremental by construction: ``sessions_sources`` keeps the fingerprint of each landing
    partition of clean_events as of the last build (compared with the fingerprints clean_events'
    writers keep, ``lib/warehouse/partition_fingerprints.py``: no scan of the events),
    ``session_partitions`` which partitions hold which session.
    Only the sessions with an event in a changed partition, now or before, are deleted and
    re-aggregated over all their events (a session crossing midnight stays one). Without that state
    (a first build, a warehouse from before it, no clean events yet), when the stored table's columns
    are not the query's (a release changed sessions.sql), or with ``full``, it is rebuilt whole.

    Beside it, two running aggregates over the sessions, in the same transaction: ``session_hours``
    (sessions started per hour; moved by the affected sessions, their old part taken back and their
    new one added) and ``busy_sessions`` (the sessions of at least ``BUSY_SESSION_MIN_EVENTS``
    events; the affected ones replaced). The daily anomalies read them instead of every session."""
    busy = {"busy_min_events": BUSY_SESSION_MIN_EVENTS}

    def update() -> str:
        # everything read here, inside the transaction: done again after meeting another commit
        # (in_transaction), it reads that commit's rows
        events = _source(con, "clean_events")
        partition_fingerprints.reconcile(con, "clean_events")
        con.execute(load_sql(__file__, "sessions_sources_now"))
        state = not full and stored_state_matches(con, SESSION_TABLES, sessions_query(events), FUNNEL_FLAGS)
        if state and isinstance(events, TableName):
            con.execute(load_sql(__file__, "sessions_changed_days"))
            con.execute(load_sql(__file__, "sessions_affected"))
            days = con.execute("SELECT count(*) FROM _sessions_changed_days").fetchone()[0]
            affected = con.execute("SELECT count(*) FROM _sessions_affected").fetchone()[0]
            if days:
                con.execute(load_sql(__file__, "session_partitions_delete"))
                con.execute(load_sql(__file__, "session_partitions_insert"))
                # the first partition holding an event of an affected session, now: bound as a
                # constant, DuckDB skips every row group of clean_events before it (zone maps),
                # where a session_id filter alone reads the whole history's session ids
                since = con.execute(load_sql(__file__, "sessions_affected_since")).fetchone()[0]
                only_affected = SqlText("(SELECT * FROM clean_events WHERE partition_date >= $since "
                                        "AND session_id IN (SELECT session_id FROM _sessions_affected))")
                con.execute(load_sql(__file__, "sessions_recomputed", sessions=sessions_query(only_affected)),
                            {**FUNNEL_FLAGS, "since": since})
                _replace_affected_sessions(con, busy)
                # each partition's fingerprint as of this build, for the next one to find what changed
                rebuild_table(con, "sessions_sources", load_sql(__file__, "sessions_sources_rows"))
            mode = f"incremental ({days} changed partitions, {affected} sessions recomputed)"
        else:
            con.execute(f"CREATE OR REPLACE TABLE sessions AS {sessions_query(events)}", FUNNEL_FLAGS)
            con.execute(load_sql(__file__, "session_partitions_full", events=events))
            con.execute(load_sql(__file__, "session_hours_full", rows=session_hours_sql(table("sessions"))))
            con.execute(load_sql(__file__, "busy_sessions_full"), busy)
            rebuild_table(con, "sessions_sources", load_sql(__file__, "sessions_sources_rows"))
            # The tables created anew (a CREATE OR REPLACE drops a table's comments) get theirs in
            # the same commit: on a DuckLake a commit of its own was another snapshot (~35-50 ms)
            # and, being a catalog change, a reload of the schema by the next statement (~40 ms).
            for created in ("sessions", "session_partitions", "session_hours", "busy_sessions"):
                write_comments(con, created)
            mode = "full"
        return mode

    return in_transaction(con, update, writes=SESSION_TABLES)


def session_hours_sql(sessions: TableName | SqlText) -> SqlText:
    """Sessions started per UTC hour over ``sessions`` (a relation with ``session_start`` and
    ``is_bot``): the rows of ``session_hours``."""
    return load_sql(__file__, "session_hours_rows", sessions=sessions)


def _replace_affected_sessions(con: duckdb.DuckDBPyConnection, busy: dict[str, int]) -> None:
    """Swap the affected sessions for their recomputed rows (``_sessions_recomputed``) in
    ``sessions`` and ``busy_sessions``, and move ``session_hours`` by the difference. The sessions'
    ids are read once: the affected rows as they were (a few thousand a day: their start, bot
    verdict and rowid) are kept, the delete goes by rowid and the hours they leave are known
    without another lookup by id (three such reads took 0.13 s at 1.58 M sessions; a ``DELETE ...
    RETURNING`` 0.23 s against 0.04 for the plain delete)."""
    con.execute(load_sql(__file__, "sessions_removed"))
    con.execute(load_sql(__file__, "sessions_delete_affected"))
    con.execute(load_sql(__file__, "sessions_insert"))
    con.execute(load_sql(__file__, "busy_sessions_delete"))
    con.execute(load_sql(__file__, "busy_sessions_insert"), busy)
    for step in ("session_hours_moved", "session_hours_delete", "session_hours_insert"):
        con.execute(load_sql(__file__, step))


def build_dim_products(con: duckdb.DuckDBPyConnection, catalogue_file: Path, full: bool = False) -> IncrementalBuild:
    """Bring ``dim_products`` up to date (the catalogue CSV read when present)."""
    return _build_dimension(con, "dim_products", "product_observations", "catalogue", catalogue_file,
                            "catalogue_file", "catalogue_empty", full)


def build_dim_customers(con: duckdb.DuckDBPyConnection, customers_file: Path, full: bool = False) -> IncrementalBuild:
    """Bring ``dim_customers`` up to date (the customer profiles CSV read when present)."""
    return _build_dimension(con, "dim_customers", "customer_observations", "profiles", customers_file,
                            "customer_profiles_file", "customer_profiles_empty", full)


def _build_dimension(con: duckdb.DuckDBPyConnection, table_name: str, observations: str, part: str, file: Path,
                     reader: str, empty: str, full: bool) -> IncrementalBuild:
    """Update the dimension's observations from the changed partitions, then compute the dimension
    from them and the optional CSV (``reader`` reads the file, its path bound as ``$file`` so any
    character in it is safe; ``empty`` stands in without it). One transaction: a failure leaves the
    dimension, its observations and their fingerprints as they were."""
    present = file.is_file()
    rows = load_sql(__file__, table_name, **{part: load_sql(__file__, reader if present else empty)})

    def update() -> IncrementalBuild:
        observed = update_observations(con, table_name, observations, full)
        rebuild_table(con, table(table_name), rows, {"file": str(file)} if present else {})  # with its comments
        return observed

    observed = in_transaction(con, update, writes=(table_name, observations, "dimension_sources"))
    return IncrementalBuild(observed.mode, [*observed.sql, f"CREATE OR REPLACE TABLE {table(table_name)} AS {rows}"])


VISITOR_OBSERVATIONS = ("visitor_observations", "purchase_observations")


def update_visitor_observations(con: duckdb.DuckDBPyConnection, full: bool = False) -> IncrementalBuild:
    """Bring ``visitor_observations`` (per event day, session, device and user: counts of each
    kind of event, first and last time) and ``purchase_observations`` (the purchase events) up to
    date with clean_events, from the partitions that changed since they were last updated, as the
    dimensions' observations are. One transaction. The daily visitor state reads these instead of
    the events (lib/segmentation/visitors.py), order_lines the purchases (lib/metrics/sources.py
    ``purchase_events``); each step calls this first, and the later ones find nothing changed."""
    # clean_events reconciled with its fingerprints once: the second reconciliation, in the same
    # transaction, found nothing to do and cost a scan of the table's days (~12 ms on a DuckLake)
    builds = in_transaction(con, lambda: [update_observations(con, name, name, full, sources=("clean_events",),
                                                              reconciled=("clean_events",) if position else ())
                                          for position, name in enumerate(VISITOR_OBSERVATIONS)],
                            writes=(*VISITOR_OBSERVATIONS, "dimension_sources"))
    comment_tables(con, (*VISITOR_OBSERVATIONS, "dimension_sources"))  # their columns described in the warehouse
    return IncrementalBuild("; ".join(f"{name}: {build.mode}" for name, build in zip(VISITOR_OBSERVATIONS, builds)),
                            [sql for build in builds for sql in build.sql])


def update_event_name_observations(con: duckdb.DuckDBPyConnection) -> IncrementalBuild:
    """Bring ``event_name_observations`` (events per landing partition of clean_events and event
    name) up to date from the partitions that changed, as the visitor observations are; one
    transaction. The funnels read which steps the shop emits from it, not from every event."""
    build = in_transaction(con, lambda: update_observations(con, "event_name_observations", "event_name_observations",
                                                            sources=("clean_events",)),
                           writes=("event_name_observations", "dimension_sources"))
    comment_columns(con, "event_name_observations")
    return build


def observations_current(con: duckdb.DuckDBPyConnection, observations: str) -> bool:
    """Whether ``observations`` (read from clean_events, by :func:`update_observations` under its own
    name) were last brought up to date from clean_events as it is now."""
    built_from = SqlText("SELECT partition_date, \"rows\", fingerprint FROM dimension_sources "
                         "WHERE dimension = $dimension AND source = 'clean_events'")
    return _built_from_current_events(con, observations, "dimension_sources", built_from, {"dimension": observations})


def sessions_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``sessions`` was built from clean_events as it is now (the fingerprints it was last
    built from, ``sessions_sources``, are the writers' current ones): then its bot verdicts are the
    events' own. In the daily job ``sessions`` runs before the segments that read it; a segment
    computed beside a stale one judges the sessions from the observations instead (same rows, a
    longer read)."""
    built_from = SqlText('SELECT partition_date, events AS "rows", fingerprint FROM sessions_sources')
    return _built_from_current_events(con, "sessions", "sessions_sources", built_from, {})


def _built_from_current_events(con: duckdb.DuckDBPyConnection, kept: str, sources: str, built_from: SqlText,
                               params: dict[str, str]) -> bool:
    """``built_from_current_events.sql`` for the table ``kept``, whose fingerprints are in ``sources``."""
    if not all(table_exists(con, name) for name in (kept, sources, "partition_fingerprints")):
        return False
    return bool(con.execute(load_sql(__file__, "built_from_current_events", built_from=built_from), params).fetchone()[0])


def update_observations(con: duckdb.DuckDBPyConnection, dimension: str, observations: str,
                        full: bool = False, sources: tuple[str, ...] = partition_fingerprints.FINGERPRINTED,
                        reconciled: tuple[str, ...] = ()) -> IncrementalBuild:
    """Bring a dimension's ``observations`` (counts per day of what the clean tables say about its
    members) up to date with clean_events and clean_order_lines; returns what was done and the
    observations as a full build makes them.

    Incremental by construction, as ``sessions``: ``dimension_sources`` keeps each clean partition's
    fingerprint as of the dimension's last build; only the partitions whose fingerprint changed are
    read again (their old counts deleted, their new ones inserted). Without stored observations, when
    their columns are not the query's (a release changed it), or with ``full``, every partition is
    read. ``sources``: the clean tables the observations read (their query's ``events`` and
    ``lines`` parts), of clean_events and clean_order_lines; ``reconciled``: those of them the caller's
    transaction has already reconciled with their fingerprints (``partition_fingerprints.reconcile``)."""
    parts = {"clean_events": "events", "clean_order_lines": "lines"}
    select = load_sql(__file__, observations, **{parts[name]: _partitioned_source(con, name) for name in sources})
    create_table_if_missing(con, "dimension_sources", load_sql(__file__, "dimension_sources_ddl"))
    for clean_table in sources:
        if clean_table not in reconciled:
            partition_fingerprints.reconcile(con, clean_table)
    con.execute(load_sql(__file__, "dimension_sources_now"))
    # the query reads the changed days: an empty set of them, to plan it
    con.execute("CREATE OR REPLACE TEMP TABLE _dimension_changed_days AS "
                "SELECT source, partition_date FROM _dimension_sources_now WHERE false")
    incremental = not full and stored_state_matches(con, (observations,), select)
    if incremental:
        con.execute(load_sql(__file__, "dimension_changed_days"), {"dimension": dimension})
    else:  # every partition there is counts as changed
        con.execute("CREATE OR REPLACE TEMP TABLE _dimension_changed_days AS "
                    "SELECT source, partition_date FROM _dimension_sources_now")
    days = con.execute("SELECT count(*) FROM _dimension_changed_days").fetchone()[0]
    mode = f"incremental ({days} changed partitions)" if incremental else f"full ({days} partitions)"
    built = IncrementalBuild(mode, [f"CREATE OR REPLACE TABLE {table(observations)} AS {select}"])
    if incremental and not days:
        # No partition changed since the last build (each step of a run calls this, and the first
        # brought them up to date): the stored observations and fingerprints are this build's
        # already. Rewritten identical, they cost four writes, on a DuckLake a snapshot and ~60 ms.
        return built
    if incremental:
        con.execute(load_sql(__file__, "observations_delete", observations=table(observations)))
        con.execute(f"INSERT INTO {table(observations)} {select}")
    else:
        rebuild_table(con, table(observations), select)
    con.execute(load_sql(__file__, "dimension_sources_delete"), {"dimension": dimension})
    con.execute(load_sql(__file__, "dimension_sources_insert"), {"dimension": dimension})
    return built
