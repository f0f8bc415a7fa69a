"""Reading the landing zone into Arrow tables of raw lines, without interpreting them.

The raw layer keeps every delivered line verbatim; parsing and typing happen in the cleaning
layer, in DuckDB, so a malformed line is quarantined with its reason instead of being dropped by a
reader. Files are read here rather than through DuckDB's glob readers because (a) DuckDB's JSON
reader skips or fails on malformed lines, and (b) its per-file overhead makes the classic
one-file-per-event layout crawl (about 1.3k files/s measured).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

EVENT_FILE_SUFFIXES = (".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz", ".json.gz")

RAW_EVENT_SCHEMA = pa.schema(
    [
        ("partition_date", pa.date32()),
        ("source_file", pa.string()),
        ("line_number", pa.int32()),
        ("raw_line", pa.string()),
        ("encoding_error", pa.bool_()),
    ]
)

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


@dataclass(frozen=True)
class LandingFile:
    path: Path
    partition_date: date
    layout: str  # "ndjson" (many events per file) or "logs" (one event per file)


def days(start: date, end: date) -> Iterable[date]:
    """The days in [start, end)."""
    for offset in range((end - start).days):
        yield start + timedelta(days=offset)


def event_files(events_dir: Path, logs_dir: Path, start: date, end: date) -> list[LandingFile]:
    """Landing files for the UTC days in [start, end), in a deterministic order.

    ``events/YYYY-MM-DD/*.ndjson[.gz]`` hold batches; ``logs/YYYYMMDD/*.json`` hold one event each.
    """
    found: list[LandingFile] = []
    for day in days(start, end):
        batch_dir = events_dir / day.isoformat()
        if batch_dir.is_dir():
            found.extend(
                LandingFile(p, day, "ndjson")
                for p in sorted(batch_dir.iterdir())
                if p.is_file() and p.name.endswith(EVENT_FILE_SUFFIXES)
            )
        logs_day = logs_dir / day.strftime("%Y%m%d")
        if logs_day.is_dir():
            found.extend(LandingFile(p, day, "logs") for p in sorted(logs_day.glob("*.json")) if p.is_file())
    return found


def _read_bytes(path: Path) -> bytes:
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as handle:
            return handle.read()
    return path.read_bytes()


def _decode(data: bytes) -> tuple[str, bool]:
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True


def read_event_lines(files: list[LandingFile]) -> tuple[pa.Table, int]:
    """All non-blank lines of the given files as an Arrow table (see ``RAW_EVENT_SCHEMA``).

    Returns the table and the number of blank lines skipped (reported, not stored: a blank line
    carries no event). A file with invalid UTF-8 is decoded line by line so that only the bad
    lines are flagged.
    """
    partition_dates: list[date] = []
    sources: list[str] = []
    numbers: list[int] = []
    lines: list[str] = []
    flags: list[bool] = []
    blank = 0
    for landing_file in files:
        data = _read_bytes(landing_file.path)
        text, bad = _decode(data)
        if landing_file.layout == "logs":
            file_lines = [(1, text.strip(), bad)]
        elif bad:
            file_lines = []
            for number, chunk in enumerate(data.split(b"\n"), start=1):
                line, line_bad = _decode(chunk.rstrip(b"\r"))
                file_lines.append((number, line, line_bad))
        else:
            file_lines = [(n, line.rstrip("\r"), False) for n, line in enumerate(text.split("\n"), start=1)]
        if landing_file.layout == "ndjson" and file_lines and not file_lines[-1][1]:
            file_lines.pop()  # the empty string after the final newline is not a line
        kept = [(n, line, b) for n, line, b in file_lines if line.strip()]
        blank += len(file_lines) - len(kept)
        source = str(landing_file.path)
        partition_dates.extend([landing_file.partition_date] * len(kept))
        sources.extend([source] * len(kept))
        numbers.extend(n for n, _, _ in kept)
        lines.extend(line for _, line, _ in kept)
        flags.extend(b for _, _, b in kept)
    table = pa.table(
        [
            pa.array(partition_dates, pa.date32()),
            pa.array(sources, pa.string()),
            pa.array(numbers, pa.int32()),
            pa.array(lines, pa.string()),
            pa.array(flags, pa.bool_()),
        ],
        schema=RAW_EVENT_SCHEMA,
    )
    return table, blank


def order_export_files(path: Path) -> list[Path]:
    """Order-line CSV exports: a single file, or every ``*.csv``/``*.csv.gz`` under a directory."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".csv", ".csv.gz")))


def read_order_export(path: Path) -> pa.Table:
    """One order export, every column as text, with its source file and 1-based line number.

    Raises a clear error when the header does not have the UCI Online Retail columns.
    """
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in ORDER_EXPORT_COLUMNS},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )
    missing = [c for c in ORDER_EXPORT_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(
            f"{path}: not an order export in the Online Retail layout; missing columns {missing}. "
            f"Expected header: {', '.join(ORDER_EXPORT_COLUMNS)}"
        )
    table = table.select(list(ORDER_EXPORT_COLUMNS))
    # Line 1 is the header; data line numbers assume no embedded newlines (true for the exports).
    line_numbers = pa.array(range(2, table.num_rows + 2), pa.int32())
    return table.append_column("line_number", line_numbers).append_column(
        "source_file", pa.array([str(path)] * table.num_rows, pa.string())
    )


def write_raw_orders(con, exports: list[pa.Table], start: date, end: date) -> int:
    """Replace the raw order lines whose invoice day lies in [start, end), verbatim as text.

    The partition of a line is its invoice day. A line whose InvoiceDate cannot be parsed still
    needs a home so that cleaning can quarantine it: it goes to the earliest invoice day of its file.
    """
    from shopverse_platform.lib.warehouse import replace_date_range  # local: keeps this module DuckDB-free at import

    schema = pa.schema([(c, pa.string()) for c in ORDER_EXPORT_COLUMNS] + [("line_number", pa.int32()), ("source_file", pa.string())])
    combined = pa.concat_tables([t.cast(schema) for t in exports]) if exports else schema.empty_table()
    con.register("_order_exports", combined)
    try:
        select_sql = """
            WITH dated AS (
                SELECT *, CAST(coalesce(try_strptime(InvoiceDate, '%Y-%m-%d %H:%M:%S'),
                                        try_strptime(InvoiceDate, '%Y-%m-%d %H:%M'),
                                        try_strptime(InvoiceDate, '%m/%d/%Y %H:%M')) AS DATE) AS invoice_day
                FROM _order_exports
            )
            SELECT coalesce(invoice_day, min(invoice_day) OVER (PARTITION BY source_file)) AS partition_date,
                   source_file, line_number,
                   InvoiceNo AS invoice_no, StockCode AS stock_code, Description AS description,
                   Quantity AS quantity, InvoiceDate AS invoice_date, UnitPrice AS unit_price,
                   CustomerID AS customer_id, Country AS country
            FROM dated
            QUALIFY partition_date >= ? AND partition_date < ?
        """
        return replace_date_range(
            con, table="raw_orders", date_column="partition_date", start=start, end=end,
            select_sql=select_sql, params=[start, end],
        )
    finally:
        con.unregister("_order_exports")
