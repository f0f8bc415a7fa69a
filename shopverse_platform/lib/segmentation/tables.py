"""Writing segmentation tables: a query with named parameters, or a DataFrame, swapped in atomically."""

from __future__ import annotations

import duckdb
import pandas as pd

from shopverse_platform.lib.warehouse.tables import replace_table


def build_table(con: duckdb.DuckDBPyConnection, table: str, sql: str, params: dict) -> int:
    """Compute ``sql`` (named parameters allowed) into a temp table, then replace ``table`` with it
    in one transaction: a failed run keeps the previous table."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _new_{table} AS {sql}", params)
    rows = replace_table(con, table=table, select_sql=f"SELECT * FROM _new_{table}")
    con.execute(f"DROP TABLE _new_{table}")
    return rows


def write_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Replace ``table`` by a pandas DataFrame, atomically.

    Works on a cursor of its own: DuckDB 2.0 refuses ``register`` on a connection whose last
    ``execute`` result was not read to the end (a ``fetchone`` of an aggregate leaves it open).
    """
    with con.cursor() as cursor:
        cursor.register(f"_frame_{table}", frame)
        try:
            return replace_table(cursor, table=table, select_sql=f"SELECT * FROM _frame_{table}")
        finally:
            cursor.unregister(f"_frame_{table}")


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A small DataFrame as a Markdown table (for asset metadata; no extra dependency)."""
    def cell(value) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
