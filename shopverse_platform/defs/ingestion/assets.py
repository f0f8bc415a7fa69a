"""Ingestion: landing-zone files into the raw layer, verbatim, one UTC day per partition."""

from datetime import timedelta

import dagster as dg
from pydantic import Field

from shopverse_platform.defs.asset_helpers import is_freshness_run, table_metadata
from shopverse_platform.defs.asset_shapes import PLATFORM, window, window_params
from shopverse_platform.defs.lineage.sql_lineage import StatementLog, sql_lineage_metadata
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.ingestion import appending, landing, order_exports
from shopverse_platform.lib.warehouse.column_docs import comment_columns
from shopverse_platform.lib.warehouse.tables import replace_date_range


class RawInputsConfig(dg.Config):
    drop_missing_inputs: bool = Field(
        default=False,
        description=("Rebuild the days even when input files they were built from are gone (landing files, order "
                     "exports: deleted, or the path set wrong), dropping what came from them. Off: such a run fails "
                     "and changes nothing."))


@dg.asset(**PLATFORM.daily("partition_date", kinds={"duckdb", "json"}))
def raw_events(context: dg.AssetExecutionContext, config: RawInputsConfig, warehouse: Warehouse,
               landing_zone: LandingZone) -> dg.MaterializeResult:
    """The event files delivered to the landing zone for the day: one row per file, with its size
    and modification time (the fingerprint cleaning checks) and its line counts.

    The landing files themselves are the raw layer, kept verbatim where they landed:
    `events/YYYY-MM-DD/*.ndjson[.gz]` batches and the classic `logs/YYYYMMDD/*.json`
    one-file-per-event folders, and other tools' exports under `imports/<source>/YYYY-MM-DD/`
    (GA4 BigQuery rows, two older tools' shapes, mapped CSV clickstreams: `layout` is
    `import:<source>`, counted in records and read through their adapter). Lines are counted here on the bytes, independently of the reader
    cleaning uses, and `line_count` is the `raw` side of cleaning's reconciliation. A line is
    referred to by (`source_file`, `line_number`) everywhere downstream; rejected lines are copied
    verbatim into `quarantine`. A file that cannot be read (a truncated gzip), that is not an event
    file (`notes.txt`; litter such as `.DS_Store` is skipped) or that is a symbolic link leading out
    of the landing zone is registered with a `rejected_reason`, counted as one line, and becomes one
    quarantine record: the window goes on. Re-materializing a day replaces its rows, except in a
    freshness run of the day in progress (docs/operations.md) when the day only grew: every file
    registered for it is unchanged and every new file sorts after them by name; then only the new
    files are counted and appended (metadata `mode`: `incremental (N new files)`, else `full`).
    A file registered for these days that the landing zone no longer has (deleted, or the landing
    path set wrong) fails the run before anything changes, naming the files and their lines; config
    `drop_missing_inputs` rebuilds the days without them on purpose.
    """
    params = window_params(context)
    start, end = params["start"], params["end"]
    files = landing.event_files(landing_zone.events_dir(), landing_zone.logs_dir(), start, end, landing_zone.imports_dir())
    if is_freshness_run(context) and end - start == timedelta(days=1):
        appended = _append_raw_events(context, warehouse, files, params)
        if appended is not None:
            return appended
    registered = landing.inventory(files)
    with warehouse.connect() as con:
        migrated = landing.migrate_verbatim_raw_events(con, landing_zone.events_dir(), landing_zone.logs_dir())
        if migrated:
            context.log.warning(
                f"raw_events held verbatim lines (the layout before the file registry): replaced by the "
                f"registry of {migrated} days' landing files; the lines remain in the landing zone"
            )
        gone = landing.gone_files(con, files, start, end)
        if gone and not config.drop_missing_inputs:
            raise landing.LandingFilesGone(gone, landing_zone.root(), start, end)
        for path, lines in sorted(gone.items()):
            context.log.warning(f"raw_events {start}..{end}: {path} is gone from the landing zone; "
                                f"its {lines:,} lines are dropped (drop_missing_inputs)")
        con.register("_landed_files", registered)
        try:
            replace_date_range(
                con, table="raw_events", date_column="partition_date", start=start, end=end,
                select_sql="SELECT * FROM _landed_files",
            )
        finally:
            con.unregister("_landed_files")
        metadata = table_metadata(con, "raw_events", window("partition_date"), params)
    lines = sum(registered.column("line_count").to_pylist())
    blank = sum(registered.column("blank_lines").to_pylist())
    context.log.info(f"raw_events {start}..{end}: {lines} lines in {len(files)} files")
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "files": dg.MetadataValue.int(len(files)),
            # unreadable, not event files, links out of the landing zone: one quarantine record each
            "files_quarantined": dg.MetadataValue.int(registered.num_rows - registered.column("rejected_reason").null_count),
            "lines": dg.MetadataValue.int(lines),
            "blank_lines_skipped": dg.MetadataValue.int(blank),
            "bytes": dg.MetadataValue.int(sum(registered.column("size_bytes").to_pylist())),
            "source_files": dg.MetadataValue.json([f.path for f in files][:500]),
            "mode": dg.MetadataValue.text("full"),
        }
    )


def _append_raw_events(context: dg.AssetExecutionContext, warehouse: Warehouse, files: list[landing.LandingFile],
                       params: dict) -> dg.MaterializeResult | None:
    """raw_events for a day that only grew: the new files' registry rows appended, in one
    connection (the new files are few: counting them holds the warehouse briefly). None when the
    day did not only grow (see ``appending``): it is then rebuilt."""
    start, end = params["start"], params["end"]
    with warehouse.connect() as con:
        appended = appending.new_files_of_day(con, files, start, end)
        if appended is None:
            return None
        registered = landing.inventory(appended)
        if appended:
            appending.append_registry(con, registered)
        totals = appending.window_totals(con, start, end)
        metadata = table_metadata(con, "raw_events", window("partition_date"), params)
    context.log.info(f"raw_events {start}: {len(appended)} new files appended "
                     f"({sum(registered.column('line_count').to_pylist())} lines), {totals['files']} in the day")
    return dg.MaterializeResult(
        metadata={
            **metadata,
            **{name: dg.MetadataValue.int(totals[name]) for name in ("files", "files_quarantined", "lines")},
            "blank_lines_skipped": dg.MetadataValue.int(totals["blank_lines"]),
            "bytes": dg.MetadataValue.int(totals["bytes"]),
            "source_files": dg.MetadataValue.json([f.path for f in files][:500]),
            "mode": dg.MetadataValue.text(f"incremental ({len(appended)} new files)"),
        }
    )


@dg.asset(**PLATFORM.daily("partition_date", kinds={"duckdb", "csv"}))
def raw_orders(context: dg.AssetExecutionContext, config: RawInputsConfig, warehouse: Warehouse,
               landing_zone: LandingZone) -> dg.MaterializeResult:
    """Order lines from CSV exports in the UCI Online Retail layout, verbatim as text, by invoice day.

    Exports live under the order-exports path, one or many (the real Online Retail file is a year
    in one file). A run reads the new or changed ones and those whose invoice days reach into its
    window (`order_export_files` records each file's fingerprint and days), and keeps the lines
    of its days. Every line lands in one day: a line without a readable invoice day goes to its
    file's first invoice day, or the day the file was modified when it has none. A line with the
    wrong number of fields is kept with its error and text, and a file that cannot be read at all
    (empty, truncated, unreadable) is one record line naming it: cleaning quarantines both, and the
    exports beside them still load. A file that is not UTF-8 is decoded as Latin-1 (recorded in
    `order_export_files.encoding`). A file with the wrong header fails the run with the expected
    columns named, and so does a configured order-exports path that does not exist.
    An export these days were loaded from that is no longer under the path (deleted, or the path
    set wrong) fails the run before anything changes, naming the exports and the lines the days
    would lose; config `drop_missing_inputs` rebuilds them without it on purpose (an export moved
    or renamed is the same export).
    """
    params = window_params(context)
    start, end = params["start"], params["end"]
    exports_path = landing_zone.order_exports_path()
    files = order_exports.order_export_files(exports_path, landing_zone.order_exports_configured())
    with warehouse.connect() as con:
        known = order_exports.recorded_exports(con)
        missing = order_exports.missing_exports(con, known, files, start, end)
        if missing and not config.drop_missing_inputs:
            raise order_exports.MissingOrderExports(missing, exports_path, start, end)
        for path, lines in sorted(missing.items()):
            context.log.warning(f"raw_orders {start}..{end}: {path} is gone from {exports_path}; "
                                f"its {lines:,} lines of these days are dropped (drop_missing_inputs)")
        needed = order_exports.exports_to_read(known, files, start, end)
        fingerprints = {str(path): order_exports.fingerprint(path) for path in needed}
        exports = [order_exports.read_order_export(path) for path in needed]
        log = StatementLog(con)  # the SQL that really ran, for lineage (its source is the exports, no table)
        rows = order_exports.write_raw_orders(log, exports, start, end, fingerprints)
        # in the run's log too, naming the file and the day its unread lines went to
        for warning in order_exports.read_warnings(exports, order_exports.recorded_first_days(con), start, end):
            context.log.warning(warning)
        metadata = {**table_metadata(con, "raw_orders", window("partition_date"), params),
                    **sql_lineage_metadata(con, "raw_orders", log.take())}
        comment_columns(con, "order_export_files")  # the exports' register, written beside raw_orders
    context.log.info(f"raw_orders {start}..{end}: {rows} lines from {len(needed)} of {len(files)} exports")
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "exports": dg.MetadataValue.json([str(p) for p in needed]),
            "exports_skipped": dg.MetadataValue.int(len(files) - len(needed)),
        }
    )
