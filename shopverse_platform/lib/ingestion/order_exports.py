"""Order-line CSV exports in the UCI Online Retail layout: finding, reading and loading them into
the raw layer (``raw_orders``, verbatim as text, by invoice day) without interpreting them.

``order_export_files`` records each export read (fingerprint, first and last invoice day) so a run
reads only the exports that are new, changed, or reach into its days.

The layout has no currency column: every export is in ``SHOPVERSE_ORDER_EXPORT_CURRENCY`` (default
GBP), which the order facts apply (``lib/metrics/currencies.py``); raw and clean lines stay as exported.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

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


def fingerprint(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def exports_to_read(con, files: list[Path], start: date, end: date) -> list[Path]:
    """The order exports a run over [start, end) must read: new or changed files, and unchanged
    files whose invoice days (as recorded in ``order_export_files`` when last read) reach into the
    window. With one export per day, a daily run reads one file instead of the whole history."""
    from shopverse_platform.lib.warehouse.tables import (
        table_exists,  # local: keeps this module DuckDB-free at import
    )

    if not table_exists(con, "order_export_files"):
        return list(files)
    known = {
        source_file: (size, modified_ns, first_day, last_day)
        for source_file, size, modified_ns, first_day, last_day in con.execute(
            load_sql(__file__, "known_order_exports")
        ).fetchall()
    }
    needed = []
    for path in files:
        record = known.get(str(path))
        if (record is None or record[:2] != fingerprint(path) or record[2] is None
                or (record[2] < end and record[3] >= start)):
            needed.append(path)
    return needed


def write_raw_orders(con, exports: list[pa.Table], start: date, end: date, fingerprints: dict[str, tuple[int, int]]) -> int:
    """Replace the raw order lines whose invoice day lies in [start, end), verbatim as text, and
    record each export read (fingerprint, first and last invoice day) in ``order_export_files``.

    The partition of a line is its invoice day. A line whose InvoiceDate cannot be parsed still
    needs a home so that cleaning can quarantine it: it goes to the earliest invoice day of its file.
    ``fingerprints`` maps each export's path to its (size, mtime_ns) taken before it was read.
    """
    from shopverse_platform.lib.warehouse.tables import (
        replace_date_range,  # local: keeps this module DuckDB-free at import
    )

    schema = pa.schema([(c, pa.string()) for c in ORDER_EXPORT_COLUMNS] + [("line_number", pa.int32()), ("source_file", pa.string())])
    combined = pa.concat_tables([t.cast(schema) for t in exports]) if exports else schema.empty_table()
    con.register("_order_exports", combined)
    try:
        invoice_day = load_sql(__file__, "invoice_day")
        rows = replace_date_range(
            con, table="raw_orders", date_column="partition_date", start=start, end=end,
            select_sql=load_sql(__file__, "raw_orders_rows", invoice_day=invoice_day),
            params={"start": start, "end": end},
        )
        con.register("_export_fingerprints", pa.table({
            "source_file": list(fingerprints), "size_bytes": [f[0] for f in fingerprints.values()],
            "modified_ns": [f[1] for f in fingerprints.values()],
        }))
        con.execute(load_sql(__file__, "order_export_files_ddl"))
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(load_sql(__file__, "delete_order_export_files"))
            con.execute(load_sql(__file__, "insert_order_export_files", invoice_day=invoice_day))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return rows
    finally:
        con.unregister("_order_exports")
        con.unregister("_export_fingerprints")
