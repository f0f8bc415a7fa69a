"""Writing segmentation tables: a query with named parameters, or a DataFrame, swapped in atomically."""

from __future__ import annotations

import duckdb
import pandas as pd

from shopverse_platform.lib.warehouse.lake import quoted_identifier
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql
from shopverse_platform.lib.warehouse.sql import table as table_name
from shopverse_platform.lib.warehouse.tables import replace_table


def build_table(con: duckdb.DuckDBPyConnection, table: str, sql: SqlText, params: dict) -> int:
    """Compute ``sql`` (a loaded query, named parameters allowed) into a temp table, then replace
    ``table`` with it in one transaction: a failed run keeps the previous table."""
    if not isinstance(sql, SqlText):
        raise TypeError(f"{table}: the query must be a loaded SqlText, not {type(sql).__name__}")
    target, staging = table_name(table), table_name(f"_new_{table}")
    con.execute(load_sql(__file__, "staging_table", staging=staging, query=sql), params)
    rows = replace_table(con, table=target, select_sql=load_sql(__file__, "staging_rows", staging=staging))
    con.execute(load_sql(__file__, "drop_staging_table", staging=staging))
    return rows


def write_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Replace ``table`` by a pandas DataFrame, atomically.

    Works on a cursor of its own: DuckDB 2.0 refuses ``register`` on a connection whose last
    ``execute`` result was not read to the end (a ``fetchone`` of an aggregate leaves it open).
    """
    database = con.execute("SELECT current_database()").fetchall()[0][0]
    with con.cursor() as cursor:
        # A cursor is a connection of its own, in the database's default catalog: a DuckLake
        # warehouse is attached and chosen (USE) per connection, so the cursor chooses it too.
        cursor.execute(f"USE {quoted_identifier(database)}")
        target, view = table_name(table), table_name(f"_frame_{table}")
        cursor.register(view, frame)
        try:
            return replace_table(cursor, table=target, select_sql=load_sql(__file__, "staging_rows", staging=view))
        finally:
            cursor.unregister(view)


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A small DataFrame as a Markdown table (for asset metadata; no extra dependency)."""
    def cell(value) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
