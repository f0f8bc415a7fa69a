"""Order-line CSV exports in the UCI Online Retail layout: finding, reading and loading them into
the raw layer (``raw_orders``, verbatim as text, by invoice day) without interpreting them.

``order_export_files`` records each export read (fingerprint, first and last invoice day) so a run
reads only the exports that are new, changed, or reach into its days.

The layout has no currency column: every export is in ``SHOPVERSE_ORDER_EXPORT_CURRENCY`` (default
GBP), which the order facts apply (``lib/metrics/currencies.py``); raw and clean lines stay as exported.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from shopverse_platform.lib.ingestion import gone_inputs
from shopverse_platform.lib.warehouse.sql import load_sql  # no DuckDB import: this module stays free of it

ORDER_EXPORT_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)


def order_export_files(path: Path, configured: bool = False) -> list[Path]:
    """Order-line CSV exports: a single file, or every ``*.csv``/``*.csv.gz`` under a directory.

    A path the operator ``configured`` that does not exist is an error naming it (a misspelt
    path read nothing and the run was green); the default path may be absent: no exports yet."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        if configured:
            raise FileNotFoundError(
                f"the order-exports path {path} does not exist: fix the configured path "
                f"(LandingZone.order_exports or $SHOPVERSE_ORDER_EXPORTS), or unset it")
        return []
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".csv", ".csv.gz")))


# Encoding of an export that is not valid UTF-8: the Online Retail CSV copies in circulation
# (UCI's own file is an Excel workbook) are ISO-8859-1, and Latin-1 decodes any byte, so such an
# export is read whole, never lost; order_export_files.encoding records which exports needed it.
FALLBACK_ENCODING = "latin-1"

# Errors that mean an export cannot be read at all (empty, truncated gzip, unreadable bytes): the
# file becomes one record line in raw_orders with the error, quarantined as unreadable_export.
_UNREADABLE = (pa.ArrowInvalid, OSError, EOFError)


def read_order_export(path: Path) -> pa.Table:
    """One order export, every column as text, with its source file and 1-based line number.

    A line with the wrong number of fields is kept as a line with ``read_error`` and its verbatim
    ``raw_text`` (cleaning quarantines it as ``malformed_line``); the other lines load. A file that
    cannot be read at all (empty, truncated, unreadable) is one record line naming it, with the
    error in ``read_error`` and no line number (cleaning quarantines it as ``unreadable_export``),
    so the exports beside it still load. A file that is not valid UTF-8 is decoded as Latin-1
    (``FALLBACK_ENCODING``; the encoding is in the table's schema metadata and in
    ``order_export_files``). Raises a clear error naming the file when the header does not have the
    UCI Online Retail columns: that is not an order export, and a misplaced file is not quarantined.
    """
    try:
        try:
            table, malformed = _read_csv(path, "utf8")
            encoding = "utf8"
        except pa.ArrowInvalid as error:
            if "UTF8" not in str(error):
                raise
            table, malformed = _read_csv(path, FALLBACK_ENCODING)
            encoding = FALLBACK_ENCODING
    except _UNREADABLE as error:
        return _export_lines(path, _empty_columns(1), [None], [f"unreadable export: {type(error).__name__}: {error}"],
                             [None], "unread")
    missing = [c for c in ORDER_EXPORT_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(
            f"{path}: not an order export in the Online Retail layout; missing columns {missing}. "
            f"Expected header: {', '.join(ORDER_EXPORT_COLUMNS)}"
        )
    # Line 1 is the header; data line numbers assume no embedded newlines (true for the exports).
    # The lines read are the data lines in order, less the malformed ones (numbered by the reader).
    bad = {number for number, _, _ in malformed}
    lines = [n for n in range(2, table.num_rows + len(malformed) + 2) if n not in bad]
    good = _export_lines(path, [table.column(c) for c in ORDER_EXPORT_COLUMNS], lines,
                         [None] * table.num_rows, [None] * table.num_rows, encoding)
    if not malformed:
        return good
    return pa.concat_tables([good, _export_lines(
        path, _empty_columns(len(malformed)), [number for number, _, _ in malformed],
        [f"malformed line: expected {len(ORDER_EXPORT_COLUMNS)} fields, found {found}" for _, _, found in malformed],
        [text for _, text, _ in malformed], encoding,
    )])


EXPORT_SCHEMA = pa.schema(
    [(c, pa.string()) for c in ORDER_EXPORT_COLUMNS]
    + [("line_number", pa.int32()), ("source_file", pa.string()), ("read_error", pa.string()), ("raw_text", pa.string())]
)


def _read_csv(path: Path, encoding: str, use_threads: bool = True) -> tuple[pa.Table, list[tuple[int, str, int]]]:
    """The export's well-formed lines, and its malformed ones as (line number, text, fields found).

    The reader numbers a skipped line only when reading on one thread: a file with a malformed
    line (rare) is read again that way, so the usual file is read once, in parallel."""
    malformed: list[tuple[int | None, str, int]] = []

    def skip(row) -> str:
        malformed.append((row.number, row.text, row.actual_columns))
        return "skip"

    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 24, encoding=encoding, use_threads=use_threads),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in ORDER_EXPORT_COLUMNS},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )
    if malformed and use_threads:
        return _read_csv(path, encoding, use_threads=False)
    return table, sorted(malformed)


def _empty_columns(rows: int) -> list[pa.Array]:
    return [pa.nulls(rows, pa.string()) for _ in ORDER_EXPORT_COLUMNS]


def _export_lines(path: Path, columns: list, line_numbers: list, read_errors: list, raw_texts: list, encoding: str) -> pa.Table:
    rows = len(line_numbers)
    table = pa.Table.from_arrays(
        [*columns, pa.array(line_numbers, pa.int32()), pa.array([str(path)] * rows, pa.string()),
         pa.array(read_errors, pa.string()), pa.array(raw_texts, pa.string())],
        schema=EXPORT_SCHEMA,
    )
    return table.replace_schema_metadata({"encoding": encoding})


def export_encoding(export: pa.Table) -> str:
    """How an export read by ``read_order_export`` was decoded: 'utf8', 'latin-1', or 'unread'."""
    return (export.schema.metadata or {}).get(b"encoding", b"utf8").decode()


def read_warnings(exports: list[pa.Table], first_days: Mapping[str, date], start: date, end: date) -> list[str]:
    """What the run over [start, end) should say about the exports just read, each naming its file:
    lines or a whole file not read, and a file decoded with the fallback encoding. Lines not read go
    to their file's first day (``first_days``: ``recorded_first_days``, the earliest invoice day, else
    the day the file was modified), where cleaning quarantines them: a day outside the window is
    named with the command that builds it, since this run's quarantine will not show them."""
    warnings = []
    for export in exports:
        if not export.num_rows:
            continue
        source, errors = export.column("source_file")[0].as_py(), export.column("read_error").drop_null()
        if len(errors):
            day = first_days.get(source)
            where = (f"clean_order_lines quarantines them in the day {day}" if day is not None
                     else "clean_order_lines quarantines them")
            if day is not None and not start <= day < end:
                where += (f", outside this run ({start}..{end - timedelta(days=1)}): the landing sensor's run of "
                          f"that day, or `shopverse backfill --start {day} --end {day}`, quarantines them")
            warnings.append(f"{source}: {len(errors)} line(s) not read ({errors[0].as_py()}): {where}")
        if export_encoding(export) == FALLBACK_ENCODING:
            warnings.append(f"{source}: not valid UTF-8, decoded as {FALLBACK_ENCODING}")
    return warnings


def recorded_exports(con) -> dict[str, tuple[int, int, date | None, date | None]]:
    """What ``order_export_files`` records of each export read: (size, mtime_ns, first day, last day);
    empty before the first export is read."""
    from shopverse_platform.lib.warehouse.tables import table_exists  # local: keeps this module DuckDB-free at import

    if not table_exists(con, "order_export_files"):
        return {}
    return {source_file: (size, modified_ns, first_day, last_day) for source_file, size, modified_ns, first_day, last_day
            in con.execute(load_sql(__file__, "known_order_exports")).fetchall()}


def recorded_first_days(con) -> dict[str, date]:
    """The first partition day ``order_export_files`` records for each export read: where its
    undated and unread lines go."""
    return {source_file: record[2] for source_file, record in recorded_exports(con).items()}


def fingerprint(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def exports_to_read(known: Mapping[str, tuple], files: list[Path], start: date, end: date) -> list[Path]:
    """The order exports a run over [start, end) must read: new or changed files, and unchanged
    files whose invoice days (``known``: ``recorded_exports``, as recorded when last read) reach
    into the window. With one export per day, a daily run reads one file instead of the whole history."""
    needed = []
    for path in files:
        record = known.get(str(path))
        if (record is None or record[:2] != fingerprint(path) or record[2] is None
                or (record[2] < end and record[3] >= start)):
            needed.append(path)
    return needed


class MissingOrderExports(gone_inputs.InputsGone):
    """Exports raw_orders holds lines of in a run's window that the order-exports path no longer has."""

    def __init__(self, missing: Mapping[str, int], exports_path: Path, start: date, end: date):
        super().__init__("raw_orders", "order export", f"the order-exports path {exports_path}",
                         "$SHOPVERSE_ORDER_EXPORTS (or the landing_zone resource's order_exports)", "order lines",
                         missing, start, end)


def missing_exports(con, known: Mapping[str, tuple], files: list[Path], start: date, end: date) -> dict[str, int]:
    """The exports read before (``known``: ``recorded_exports``) that are not among ``files`` (nor
    moved or renamed to one of them: ``gone_inputs``) and whose lines ``raw_orders`` holds in
    [start, end): {path: lines in the window}. Replacing the window from ``files`` alone would drop
    those lines; an empty result means it drops nothing. Queries ``raw_orders`` only when a recorded
    export reaching into the window is gone."""
    reaching = {source: (size, modified_ns) for source, (size, modified_ns, first_day, last_day)
                in known.items() if first_day is None or (first_day < end and last_day >= start)}
    absent = gone_inputs.gone(reaching, [str(path) for path in files])
    if not absent:
        return {}
    return dict(con.execute(load_sql(__file__, "missing_export_lines"),
                            {"start": start, "end": end, "exports": absent}).fetchall())


def write_raw_orders(con, exports: list[pa.Table], start: date, end: date, fingerprints: dict[str, tuple[int, int]]) -> int:
    """Replace the raw order lines whose partition day lies in [start, end), verbatim as text, and
    record each export read (fingerprint, encoding, first and last partition day, lines) in
    ``order_export_files``.

    The partition of a line is its invoice day. A line without one (an InvoiceDate that cannot be
    parsed, a malformed line) still needs a home so that cleaning can quarantine it: it goes to the
    earliest invoice day of its file, and when no line of the file has one (or the file could not
    be read at all), to the UTC day the file was last modified. Every line of an export thus lands
    in exactly one partition, and the run over that day quarantines it.
    ``fingerprints`` maps each export's path to its (size, mtime_ns) taken before it was read.
    """
    from shopverse_platform.lib.warehouse.tables import (
        create_table_if_missing,
        replace_date_range,  # local: keeps this module DuckDB-free at import
        transaction,
    )

    combined = pa.concat_tables([t.cast(EXPORT_SCHEMA) for t in exports]) if exports else EXPORT_SCHEMA.empty_table()
    fingerprints = dict(fingerprints)
    for export in exports:  # every export needs its modification day (a caller passing none: taken now)
        if export.num_rows and (source := export.column("source_file")[0].as_py()) not in fingerprints:
            fingerprints[source] = fingerprint(Path(source))
    encodings = {export.column("source_file")[0].as_py(): export_encoding(export) for export in exports if export.num_rows}
    con.register("_order_exports", combined)
    con.register("_export_fingerprints", pa.table({
        "source_file": list(fingerprints), "size_bytes": [f[0] for f in fingerprints.values()],
        "modified_ns": [f[1] for f in fingerprints.values()],
        "modified_day": pa.array([modified_day(f[1]) for f in fingerprints.values()], pa.date32()),
        "encoding": [encodings.get(source, "utf8") for source in fingerprints],
    }))
    try:
        invoice_day = load_sql(__file__, "invoice_day")
        rows = replace_date_range(
            con, table="raw_orders", date_column="partition_date", start=start, end=end,
            select_sql=load_sql(__file__, "raw_orders_rows", invoice_day=invoice_day),
            params={"start": start, "end": end},
        )
        create_table_if_missing(con, "order_export_files", load_sql(__file__, "order_export_files_ddl"))
        con.execute(load_sql(__file__, "order_export_files_encoding"))  # warehouses from before it
        with transaction(con, writes=("order_export_files",)):
            con.execute(load_sql(__file__, "delete_order_export_files"))
            con.execute(load_sql(__file__, "insert_order_export_files", invoice_day=invoice_day))
        return rows
    finally:
        con.unregister("_order_exports")
        con.unregister("_export_fingerprints")


def partition_days(path: Path) -> set[date]:
    """The partition days ``write_raw_orders`` will give an export's lines, so that the landing
    sensor runs exactly those: its invoice days (an undated or malformed line goes to the earliest
    of them), else the day the file was modified: a file no line of which has a date, one that
    cannot be read at all (quarantined by the run over that day), and one that is not an order
    export (the run over that day fails naming it). Read as ingestion reads it, so a malformed
    line or a truncated file never stops the sensor. A file gone since it was seen: no day."""
    import duckdb  # local: keeps this module DuckDB-free at import

    try:
        modified = modified_day(fingerprint(path)[1])
        export = read_order_export(path)
    except FileNotFoundError:
        return set()
    except ValueError:  # not an order export (read_order_export's error): the run over the day says so
        return {modified}
    con = duckdb.connect()
    try:
        con.register("_order_exports", export.select(["InvoiceDate"]))
        days = {day for (day,) in con.execute(load_sql(__file__, "export_invoice_days",
                                                       invoice_day=load_sql(__file__, "invoice_day"))).fetchall()}
    finally:
        con.close()
    return days or {modified}


def modified_day(modified_ns: int) -> date:
    """The UTC day of a file modification time: the partition of an export's undated lines."""
    return datetime.fromtimestamp(modified_ns // 1_000_000_000, timezone.utc).date()
