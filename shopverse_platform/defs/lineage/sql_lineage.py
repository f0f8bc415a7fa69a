"""Column lineage of a warehouse table from the SQL that builds it, for Dagster and OpenLineage at once.

An asset that builds ``table`` with SQL adds one call to its materialization metadata, after the
write, on the connection that wrote it::

    with warehouse.connect() as con:
        sales.build_daily_sales(con, start, end)
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, "daily_sales", ...),
            **sql_lineage_metadata(con, "daily_sales", load_sql(sales.__file__, "daily_sales")),
        })

What it returns:

- ``dagster/column_lineage``: a :class:`dagster.TableColumnLineage` (output column -> the upstream
  assets' columns), which the Dagster UI shows on the asset's column schema;
- ``lineage/sql``: the SQL itself, shown in the UI, and read by the lineage observer
  (``observer.py``), which derives the same lineage with its transformation types (IDENTITY,
  TRANSFORMATION, AGGREGATION, and the INDIRECT filter/join/group-by columns) into the
  ``columnLineage`` facet of the OpenLineage ``COMPLETE`` event and states the SQL in the job's
  ``sql`` facet.

Both come from one parse (``lib/lineage/column_lineage.py``, DuckDB's own parser) with the
warehouse's schema at hand, so ``*`` and unqualified columns resolve, and temp tables of the run
are traced through to the warehouse tables they read. A table's asset key is its name: every
warehouse table of the platform is the asset of the same name (``main.orders`` -> ``orders``).

The SQL handed over must be what really ran. :class:`StatementLog` makes that true by construction:
the asset runs its builder on the log instead of the connection, and hands the statements the log
kept (the loaded ``.sql`` texts with their parts, the staging table, the swap) to this module::

    with warehouse.connect() as con:
        log = StatementLog(con)
        sales.build_daily_sales(log, start, end)
        yield dg.MaterializeResult(metadata={..., **sql_lineage_metadata(con, "daily_sales", log.take())})
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import duckdb

from shopverse_platform.lib.lineage.column_lineage import ColumnLineageError, SqlLineage, column_lineage

SQL_METADATA_KEY = "lineage/sql"
FRAME_SQL_METADATA_KEY = "lineage/frame_sql"
COLUMN_LINEAGE_KEY = "dagster/column_lineage"
LINEAGE_ERROR_KEY = "lineage/column_lineage_error"


def sql_lineage_metadata(
    con: duckdb.DuckDBPyConnection, table: str, sql: str | Sequence[str]
) -> dict[str, dg.MetadataValue | dg.TableColumnLineage]:
    """Materialization metadata giving ``table``'s column lineage from ``sql``: the statements
    that build it, in the order they run (one SELECT, or temp tables then the final statement;
    the last statement that creates or inserts into ``table``, else the last one, builds it)."""
    script = _script(sql)
    metadata: dict[str, dg.MetadataValue | dg.TableColumnLineage] = {
        SQL_METADATA_KEY: dg.MetadataValue.md(f"```sql\n{script}\n```"),
    }
    try:
        metadata[COLUMN_LINEAGE_KEY] = dagster_column_lineage(warehouse_column_lineage(con, table, script))
    except ColumnLineageError as error:
        # Lineage never fails a step: the table is written; say why its column lineage is missing.
        metadata[LINEAGE_ERROR_KEY] = dg.MetadataValue.text(f"column lineage unavailable: {error}")
    return metadata


def frame_lineage_metadata(
    con: duckdb.DuckDBPyConnection, table: str, queries: Sequence[tuple[Sequence[str], Sequence[str]]]
) -> dict[str, dg.MetadataValue | dg.TableColumnLineage]:
    """Materialization metadata giving the column lineage of a ``table`` written from a DataFrame
    that SQL queries made (``behaviour_clusters``: features queried, then KMeans in Python).

    ``queries``: for each query, the statements that ran it (a :class:`StatementLog`'s, its last
    statement the query) and the columns of ``table`` taken from its result as they are, or with
    values filled in. Those columns keep the query's lineage; columns Python computed (a cluster)
    have none, since no SQL made them. The SQL goes under ``lineage/frame_sql``, not ``lineage/sql``:
    it does not write the table, so the lineage observer must not read it as if it did."""
    scripts = [_script(statements) for statements, _ in queries]
    metadata: dict[str, dg.MetadataValue | dg.TableColumnLineage] = {
        FRAME_SQL_METADATA_KEY: dg.MetadataValue.md("\n\n".join(f"```sql\n{script}\n```" for script in scripts)),
    }
    columns: dict[str, list] = {}
    try:
        for script, (_, taken) in zip(scripts, queries, strict=True):
            lineage = warehouse_column_lineage(con, table, script)
            columns.update({column: lineage.columns[column] for column in taken if column in lineage.columns})
    except ColumnLineageError as error:
        metadata[LINEAGE_ERROR_KEY] = dg.MetadataValue.text(f"column lineage unavailable: {error}")
        return metadata
    order = [column for _, taken in queries for column in taken]
    metadata[COLUMN_LINEAGE_KEY] = dagster_column_lineage(
        SqlLineage(columns={column: columns[column] for column in order if column in columns}))
    return metadata


class StatementLog:
    """A DuckDB connection that keeps the text of every statement executed through it, in order.

    Builders of ``lib/`` take a connection and run loaded SQL through ``execute``; handing them this
    instead records exactly what ran, so the lineage never describes a copy of the SQL that could
    drift from it (a part chosen at run time, such as an empty shape for a table never built, is in
    the text as it ran). Everything else is the connection's own."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements: list[str] = []

    @property
    def __wrapped__(self) -> duckdb.DuckDBPyConnection:
        """The connection recorded: what takes a lake's write turns (lib/warehouse/write_turns.py)."""
        return self.con

    def execute(self, sql: str, *args, **kwargs):
        self.statements.append(str(sql))
        return self.con.execute(sql, *args, **kwargs)

    def take(self, *, distinct: bool = False) -> list[str]:
        """The statements recorded since the last ``take``, and forget them.

        ``distinct``: each text once, where it first ran. A builder that loops (cleaning a few days
        at a time, a snapshot per week) runs the same texts every round, values bound and not
        spliced, so one round says what all did, and the metadata does not grow with the rounds."""
        taken, self.statements = self.statements, []
        return list(dict.fromkeys(taken)) if distinct else taken

    def __getattr__(self, name: str):
        return getattr(self.con, name)


def warehouse_column_lineage(con: duckdb.DuckDBPyConnection, table: str, script: str) -> SqlLineage:
    """Column lineage of ``table`` built by ``script``, resolved against the warehouse's schema
    and restricted to its tables (a temp table of the run is no dataset)."""
    columns = warehouse_columns(con)
    return column_lineage(script, columns.get, target=table).restricted_to(set(columns))


def dagster_column_lineage(lineage: SqlLineage) -> dg.TableColumnLineage:
    """Each output column's DIRECT sources as Dagster column dependencies, in column order."""
    return dg.TableColumnLineage(deps_by_column={
        column: [
            dg.TableColumnDep(asset_key=dg.AssetKey(table.split(".", 1)[-1]), column_name=name)
            for table, name in sorted({(s.table, s.column) for s in sources})
        ]
        for column, sources in lineage.columns.items()
    })


def warehouse_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """``main.<table>`` -> its column names, in order: the schema the SQL runs against."""
    columns: dict[str, list[str]] = {}
    for table, name in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_catalog IN (current_database(), 'temp') AND table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall():
        columns.setdefault(f"main.{table}", []).append(name)
    return columns


def _script(sql: str | Sequence[str]) -> str:
    texts = [sql] if isinstance(sql, str) else list(sql)
    return ";\n".join(text.strip().rstrip(";").strip() for text in texts if text.strip())
