"""Cleaning: typed, UTC, deduplicated, sessionised tables, a quarantine, and the dimensions."""


import dagster as dg
from pydantic import Field

from shopverse_platform.defs.asset_helpers import is_freshness_run, table_metadata
from shopverse_platform.defs.asset_shapes import PLATFORM, window, window_params
from shopverse_platform.defs.checks import Check, OnRunDays, table_checks
from shopverse_platform.defs.lineage.sql_lineage import StatementLog, sql_lineage_metadata
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.cleaning import dimensions
from shopverse_platform.lib.cleaning import events as event_cleaning
from shopverse_platform.lib.cleaning import input_quality
from shopverse_platform.lib.cleaning import orders as order_cleaning
from shopverse_platform.lib.ingestion import landing
from shopverse_platform.lib.warehouse.column_docs import comment_columns
from shopverse_platform.lib.warehouse.tables import table_exists, unique_key, unique_key_in_days

# clean_events' metadata: the event days, outside the run's landing days, of the events it cleaned
EVENT_DAYS_OUTSIDE = "event_days_outside_run"

CLEANING = PLATFORM.with_group("cleaning")
WINDOW = window("partition_date")


class CleanEventsConfig(dg.Config):
    future_tolerance_hours: int = Field(default=24, description="Hours after the landing day an event may be stamped.")
    max_lateness_days: int = Field(default=30, description="Days before the landing day an event may be stamped.")
    chunk_megabytes: int = Field(
        default=256,
        description="Landing bytes cleaned at a time (whole days): bounds memory on long backfills.",
    )

    def rules(self) -> event_cleaning.EventRules:
        """The validation and dedupe rules these settings make."""
        return event_cleaning.EventRules(self.future_tolerance_hours, self.max_lateness_days)


def _reconciliation_check(asset_name: str, source: str) -> Check:
    # Evaluated by the asset: it counts the run's days only.
    return Check(asset_name, "reconciles_with_raw",
                 f"For the run's days: raw = clean + quarantined + duplicates ({source}). Nothing dropped silently.",
                 blocking=True)


def _reconciliation(con, source: str, params: dict) -> tuple[bool, dict]:
    counts = event_cleaning.reconcile(con, source, params["start"], params["end"])
    accounted = counts["clean"] + counts["quarantined"] + counts["duplicates"]
    return counts["raw"] == accounted, {**counts, "unaccounted": counts["raw"] - accounted}


EVENTS_RECONCILE = _reconciliation_check("clean_events", "events")
ORDER_LINES_RECONCILE = _reconciliation_check("clean_order_lines", "orders")


def _input_quality_check(asset_name: str, source: str) -> Check:
    return Check(asset_name, "input_quality",
                 f"For the run's days ({source}): the rejected share, overall and per reason, under the failure "
                 "threshold (SHOPVERSE_QUALITY_FAIL_SHARE, default 20 %; a failure blocks the metrics downstream) and the "
                 "warning one (SHOPVERSE_QUALITY_WARN_SHARE, 1 %), and the volume within SHOPVERSE_QUALITY_VOLUME_FACTOR "
                 "(3×) of the same weekday's median. Per-day figures: the input_quality table.",
                 blocking=True)


EVENTS_INPUT_QUALITY = _input_quality_check("clean_events", "events")
ORDER_LINES_INPUT_QUALITY = _input_quality_check("clean_order_lines", "orders")


def _input_quality(con, check: Check, source: str, params: dict) -> dg.AssetCheckResult:
    """Write the window's ``input_quality`` rows and judge them: a warning passes nothing on to the
    severity (WARN, downstream proceeds), a failure is an ERROR and blocks the metrics."""
    rows = input_quality.write_input_quality(con, source, params["start"], params["end"],
                                             input_quality.QualityGates.from_environment())
    comment_columns(con, "input_quality")
    status, metadata = input_quality.gate_outcome(rows)
    if source == "events" and status != "ok":
        if hints := input_quality.foreign_formats(con, params["start"], params["end"]):
            input_quality.record_hints(con, hints)  # the daily report's data-quality line shows it too
            metadata["another_tools_export"] = [hint for _, hint in hints[:20]]
    return check.result((status == "ok", {"status": status, **metadata}), warn=status != "fail")


@dg.asset(**CLEANING.daily("partition_date", ["raw_events"]),
          check_specs=[EVENTS_RECONCILE.spec(), EVENTS_INPUT_QUALITY.spec()])
def clean_events(context: dg.AssetExecutionContext, config: CleanEventsConfig, warehouse: Warehouse):
    """Typed shop events: UTC timestamps, legacy names mapped, deduplicated by event_id, sessionised.

    Reads the lines of the landing files `raw_events` registered (failing if one changed since),
    a few days at a time (`chunk_megabytes`), each group replaced in its own transaction: memory
    stays bounded on long backfills and every day is all or nothing. Rejected lines go to
    `quarantine` (source `events`) verbatim with a reason code (a price, quantity or value outside
    its documented domain included: never coerced; invalid UTF-8 keeps its bytes in `raw_bytes`);
    a landing file `raw_events` registered as not read (`unreadable_file`, `not_an_event_file`,
    `symlink_outside_landing`) is one quarantine row naming it. Re-deliveries of an event already
    seen (same file, another file, an earlier day) or already clean on a later day are quarantined
    as `duplicate_event`. Events
    without a tracker session_id get one after 30 minutes of inactivity per device, stable across
    reruns.

    A freshness run of the day in progress (every minute or so, docs/operations.md) on a day that
    only grew (every file cleaned before is registered unchanged, every new one sorts after them by
    name) cleans only the new files and appends them, with the same rules and the same rows as a whole-day
    rebuild (`cleaned_landing_files` records what was cleaned; metadata `mode`).

    Metadata `event_days_outside_run`: the event days, outside the run's landing days, of the
    events it cleaned (landed late, or stamped into the next day); the late-events sensor rebuilds
    those days' metrics, which select by event day.
    """
    params = window_params(context)
    start, end = params["start"], params["end"]
    rules = config.rules()
    with warehouse.connect() as con:
        if not table_exists(con, "raw_events"):
            raise LookupError("raw_events was never materialized: materialize it for these days first")
        landing.add_registry_columns(con)  # a registry from before rejected_reason: none rejected
        registered = landing.registered_files(
            con.execute(
                "SELECT partition_date, source_file, layout, size_bytes, modified_ns, rejected_reason "
                f"FROM raw_events WHERE {WINDOW} "
                "ORDER BY partition_date, source_file",
                params,
            ).fetchall()
        )
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        appended = event_cleaning.appended_files(con, registered, start, end, rules) if is_freshness_run(context) else None
        if appended is None:
            chunks = landing.day_chunks(registered, start, end, config.chunk_megabytes << 20)
            outcome = event_cleaning.clean_event_lines(
                log, ((first, last, landing.read_lines(files)) for first, last, files in chunks), rules
            )
            mode = "full"
        else:  # the day only grew since it was cleaned: its new files only, appended
            new_paths = {f.path for f in appended}
            earlier = [f for f in registered if f.path not in new_paths]
            landing.check_registered_unchanged(earlier)
            chunks = [(start, end, appended)] if appended else []
            after = max(f.path for f in earlier)
            outcome = (event_cleaning.clean_appended_lines(log, start, end, after, landing.read_lines(appended), rules)
                       if appended else {})
            mode = f"incremental ({len(appended)} new files)"
        # written beside clean_events: rejected lines, the files cleaned, the days' fingerprints
        metadata = table_metadata(con, "clean_events", WINDOW, params,
                                  beside=("quarantine", "cleaned_landing_files", "partition_fingerprints"))
        late_days = event_cleaning.event_days_outside(
            con, start, end, None if appended is None else [f.path for f in appended])
        yield dg.MaterializeResult(
            metadata={**metadata, "outcome_by_reason": dg.MetadataValue.json(outcome),
                      "chunks": dg.MetadataValue.int(len(chunks)), "mode": dg.MetadataValue.text(mode),
                      # read by the late-events sensor, which rebuilds those days' metrics
                      EVENT_DAYS_OUTSIDE: dg.MetadataValue.json([day.isoformat() for day in late_days]),
                      # every group of days runs the same texts: stated once
                      **sql_lineage_metadata(con, "clean_events", log.take(distinct=True))}
        )
        yield EVENTS_RECONCILE.result(_reconciliation(con, "events", params))
        yield _input_quality(con, EVENTS_INPUT_QUALITY, "events", params)


def _event_id_unique(con, start, end, run_config):
    # A run writes whole days (the rows of other days are not touched), and the write-time dedupe
    # compares the written days with the days a re-delivery can land on (events.history_start /
    # history_end, from the run's lateness settings). Checking the written days among themselves and
    # against those days is the dedupe's own guarantee, at the cost of those days, not of the
    # history; the integrity job checks the whole table every week (an id reused months apart by a
    # broken tracker is not a re-delivery the dedupe looks for, and the weekly check reports it).
    if start is None:
        passed, outcome = unique_key(con, "clean_events", "event_id")
        return passed, {**outcome, "days": "all (the whole table)"}
    rules = CleanEventsConfig(**run_config.get("ops", {}).get("clean_events", {}).get("config", {})).rules()
    reach = (event_cleaning.history_start(start, rules), event_cleaning.history_end(end, rules))
    return unique_key_in_days(con, "clean_events", "event_id", "partition_date", start, end, reach)


EVENT_ID_UNIQUE = Check(
    "clean_events", "event_id_unique",
    "No event_id appears twice in clean_events. In a run of daily partitions: none twice among the run's "
    "days, nor shared with a day a re-delivery of them can land on (the write-time dedupe's window, from "
    "max_lateness_days and future_tolerance_hours; the other days were checked when written); run on its "
    "own (the weekly integrity job, or from the UI): the whole table.",
    blocking=True)

clean_events_checks = table_checks("clean_events", [(EVENT_ID_UNIQUE, OnRunDays(_event_id_unique))])


@dg.asset(**CLEANING.daily("partition_date", ["raw_orders"]),
          check_specs=[ORDER_LINES_RECONCILE.spec(), ORDER_LINES_INPUT_QUALITY.spec()])
def clean_order_lines(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Typed order-export lines: cancellations linked to their invoice, guests kept, fees classified.

    Cancellations (InvoiceNo `C...`) stay as negative lines; `original_invoice_no` names the latest
    earlier invoice of the same customer with the same stock code. Lines without CustomerID are
    guest orders (`is_guest`) and still count for revenue. Postage, fees and manual adjustments get
    their own `line_type`. Exact repeats are quarantined as `duplicate_line`. An unparseable
    InvoiceDate (`bad_invoice_date`), a Quantity or UnitPrice outside its domain
    (`quantity_out_of_domain`, `price_out_of_domain`: never coerced), a line the reader could not
    split (`malformed_line`) and an export it could not read (`unreadable_export`, one row naming
    the file) are quarantined with the value or the error (docs/events.md).
    """
    params = window_params(context)
    with warehouse.connect() as con:
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        outcome = order_cleaning.write_clean_order_lines(log, params["start"], params["end"])
        metadata = table_metadata(con, "clean_order_lines", WINDOW, params,
                                  beside=("quarantine", "partition_fingerprints"))  # written beside it
        yield dg.MaterializeResult(metadata={**metadata, "outcome_by_reason": dg.MetadataValue.json(outcome),
                                             **sql_lineage_metadata(con, "clean_order_lines", log.take())})
        yield ORDER_LINES_RECONCILE.result(_reconciliation(con, "orders", params))
        yield _input_quality(con, ORDER_LINES_INPUT_QUALITY, "orders", params)


@dg.asset(**CLEANING.whole_history(["clean_events"]))
def sessions(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per session over the whole history: device, start/end, counts, funnel steps reached.

    Kept up to date from the changed days of `clean_events`, not rebuilt: a fingerprint per landing
    day (`sessions_sources`) finds the days that changed since the last build, and only the sessions
    with an event in them (now or before: `session_partitions`) are re-aggregated over all their
    events, so a session crossing midnight is one session, counted on the UTC day it started. The
    first build, or one without that state, rebuilds the table whole (metadata `mode`). Beside it,
    in the same transaction, two running aggregates the anomalies read instead of every session:
    `session_hours` (sessions started per UTC hour) and `busy_sessions` (sessions of 10 events or more).
    """
    with warehouse.connect() as con:
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        mode = dimensions.build_sessions(log)
        context.log.info(f"sessions: {mode}")
        beside = ("sessions_sources", "session_partitions", "session_hours", "busy_sessions")  # written with sessions
        return dg.MaterializeResult(metadata={**table_metadata(con, "sessions", beside=beside),
                                              "mode": dg.MetadataValue.text(mode),
                                              **sql_lineage_metadata(con, "sessions", log.take())})


@dg.asset(**CLEANING.whole_history(["clean_events", "clean_order_lines"]))
def dim_products(context: dg.AssetExecutionContext, warehouse: Warehouse, landing_zone: LandingZone) -> dg.MaterializeResult:
    """Products: the shop catalogue, products seen in events, and stock codes from order exports
    (the most frequent description; fee and adjustment codes flagged, not counted as products).
    Computed from `product_observations`, per-day counts of what the clean tables say of each
    product, updated from the partitions that changed since the last build (metadata `mode`)."""
    with warehouse.connect() as con:
        build = dimensions.build_dim_products(con, landing_zone.catalogue_file())
        context.log.info(f"dim_products: {build.mode}")
        beside = ("product_observations", "dimension_sources")  # written with dim_products
        return dg.MaterializeResult(metadata={**table_metadata(con, "dim_products", beside=beside),
                                              "mode": dg.MetadataValue.text(build.mode),
                                              **sql_lineage_metadata(con, "dim_products", build.sql)})


@dg.asset(**CLEANING.whole_history(["clean_events", "clean_order_lines"]))
def dim_customers(context: dg.AssetExecutionContext, warehouse: Warehouse, landing_zone: LandingZone) -> dg.MaterializeResult:
    """Customers: profiles (age group, country, signup date, acquisition channel) joined with the
    identified users seen in events and the CustomerIDs of order exports. Guests are not customers.
    Computed from `customer_observations`, per-day first/last seen and rows per country, updated
    from the partitions that changed since the last build (metadata `mode`)."""
    with warehouse.connect() as con:
        build = dimensions.build_dim_customers(con, landing_zone.customers_file())
        context.log.info(f"dim_customers: {build.mode}")
        beside = ("customer_observations", "dimension_sources")  # written with dim_customers
        return dg.MaterializeResult(metadata={**table_metadata(con, "dim_customers", beside=beside),
                                              "mode": dg.MetadataValue.text(build.mode),
                                              **sql_lineage_metadata(con, "dim_customers", build.sql)})
