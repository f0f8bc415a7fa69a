"""Reading the landing zone into Arrow tables of raw lines, without interpreting them.

The raw layer keeps every delivered line verbatim; parsing and typing happen in the cleaning
layer, in DuckDB, so a malformed line is quarantined with its reason instead of being dropped by a
reader. Files are read here rather than through DuckDB's glob readers because (a) DuckDB's JSON
reader skips or fails on malformed lines, and (b) its per-file overhead makes the classic
one-file-per-event layout crawl (about 1.3k files/s measured).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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
            # scandir: the file type comes with the directory entry, no stat per file; this folder
            # layout can hold hundreds of thousands of files a day
            with os.scandir(logs_day) as entries:
                names = sorted(e.name for e in entries if e.name.endswith(".json") and e.is_file())
            found.extend(LandingFile(logs_day / name, day, "logs") for name in names)
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


def _ndjson_lines_fast(path: Path) -> tuple[pa.Array, pa.Array] | None:
    """Lines of an NDJSON file via Arrow's multi-threaded CSV reader (one column, no quoting).

    Returns (line numbers, lines), blank lines included, or None when the file needs the careful
    path: invalid UTF-8, or a byte that Arrow would take as a column separator (never present in
    valid JSON, whose strings must escape control characters).
    """
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=["raw_line"], block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                delimiter="\x1f", quote_char=False, escape_char=False, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(column_types={"raw_line": pa.binary()}, strings_can_be_null=False),
        )
        lines = table.column("raw_line").cast(pa.string())  # stays chunked: DuckDB scans chunks in parallel
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    return pa.array(np.arange(1, len(lines) + 1, dtype=np.int32)), lines


def _lines_careful(landing_file: LandingFile) -> list[tuple[int, str, bool]]:
    """(line number, text, invalid encoding) for every line, decoding line by line."""
    data = _read_bytes(landing_file.path)
    if landing_file.layout == "logs":
        text, bad = _decode(data)
        return [(1, text.strip(), bad)]
    chunks = data.split(b"\n")
    if chunks and not chunks[-1]:
        chunks.pop()  # the empty string after the final newline is not a line
    result = []
    for number, chunk in enumerate(chunks, start=1):
        line, bad = _decode(chunk.rstrip(b"\r"))
        result.append((number, line, bad))
    return result


def _read_one_event_files(files: list[LandingFile]) -> tuple[pa.Table, int]:
    """The classic layout: each file is one (possibly pretty-printed) JSON document."""
    dates, sources, lines, flags = [], [], [], []
    blank = 0
    for landing_file in files:
        with open(landing_file.path, "rb") as handle:
            text, bad = _decode(handle.read())
        text = text.strip()
        if not text:
            blank += 1
            continue
        dates.append(landing_file.partition_date)
        sources.append(str(landing_file.path))
        lines.append(text)
        flags.append(bad)
    table = pa.table(
        [pa.array(dates, pa.date32()), pa.array(sources, pa.string()), pa.repeat(pa.scalar(1, pa.int32()), len(lines)),
         pa.array(lines, pa.string()), pa.array(flags, pa.bool_())],
        schema=RAW_EVENT_SCHEMA,
    )
    return table, blank


def iter_event_line_tables(files: list[LandingFile], skipped: list[int]) -> Iterator[pa.Table]:
    """The non-blank lines of the given files as Arrow tables (see ``RAW_EVENT_SCHEMA``), one
    NDJSON file at a time, so a caller can store each before the next is read (bounded memory).

    Blank lines are not yielded (a blank line carries no event); their count is added to
    ``skipped[0]``. NDJSON batches go through Arrow's reader; one-event files and files with
    encoding problems are read in Python, so that only the bad lines are flagged.
    """
    careful: list[tuple[LandingFile, list[tuple[int, str, bool]]]] = []
    one_event_files = [f for f in files if f.layout == "logs"]
    if one_event_files:
        table, blank = _read_one_event_files(one_event_files)
        skipped[0] += blank
        yield table
    for landing_file in (f for f in files if f.layout == "ndjson"):
        fast = _ndjson_lines_fast(landing_file.path)
        if fast is None:
            careful.append((landing_file, _lines_careful(landing_file)))
            continue
        numbers, lines = fast
        n = len(lines)
        table = pa.table(
            [
                pa.repeat(pa.scalar(landing_file.partition_date, pa.date32()), n),
                pa.repeat(pa.scalar(str(landing_file.path), pa.string()), n),
                numbers,
                lines,
                pa.repeat(pa.scalar(False), n),
            ],
            schema=RAW_EVENT_SCHEMA,
        )
        # Only empty lines are skipped; a whitespace-only line is kept verbatim and quarantined.
        # (A trailing CR of a CRLF file is JSON whitespace: the parser ignores it.)
        kept = table.filter(pc.greater(pc.binary_length(table.column("raw_line")), 0))
        skipped[0] += n - kept.num_rows
        yield kept
    if careful:
        columns: tuple[list, ...] = ([], [], [], [], [])
        for landing_file, file_lines in careful:
            for number, line, bad in file_lines:
                if not line.strip():
                    skipped[0] += 1
                    continue
                for column, value in zip(columns, (landing_file.partition_date, str(landing_file.path), number, line, bad)):
                    column.append(value)
        yield pa.table([pa.array(c, t.type) for c, t in zip(columns, RAW_EVENT_SCHEMA)], schema=RAW_EVENT_SCHEMA)


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
