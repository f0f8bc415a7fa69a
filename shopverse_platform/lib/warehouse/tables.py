"""Small helpers for writing DuckDB tables safely: partition replacement in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from shopverse_platform.lib.warehouse.column_docs import write_comments
# transactions live in their own module, below column_docs (which commits comments through them);
# imported here too, where the table helpers' callers have always found them
from shopverse_platform.lib.warehouse.transactions import in_transaction, schema_change, transaction  # noqa: F401


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Does an unqualified ``table`` name a table (or view): one of this connection's temp tables or
    the warehouse's (the DuckDB file, or the DuckLake in use)?"""
    # The name is bound, as a relation that is never run, the way a query would resolve it. Not a
    # lookup in duckdb_columns(), which lists every column of every attached database first: 1.6 ms
    # a call on a DuckDB file at 30 days of history and 5.1 ms on a DuckLake, against 0.02 and 3.0 ms
    # bound (information_schema.tables and duckdb_tables() read each lake table's statistics: 20 ms).
    # A daily run asks ~110 times. A missing name costs more on a lake (~10 ms: DuckDB looks for a
    # similar name to suggest), which happens on a warehouse's first runs only. DuckDB's own catalog
    # views (duckdb_tables, pg_class, ...) resolve too; no warehouse or temp table takes their names.
    try:
        con.table(table)
    except duckdb.CatalogException:
        return False
    return True


def create_table_if_missing(con: duckdb.DuckDBPyConnection, table: str, ddl_sql: str) -> bool:
    """Create ``table`` with ``ddl_sql`` (its CREATE TABLE IF NOT EXISTS) unless it exists; whether it
    did. Looked up first: binding the name costs ~2 ms on a DuckLake where the statement is a
    transaction of its own (~5 ms), and a table is created on a warehouse's first runs only. The
    creation runs in the lake's write turn (``schema_change``)."""
    if table_exists(con, table):
        return False
    schema_change(con, ddl_sql, table=table)
    return True


def _bound(params: Iterable[object] | Mapping[str, object]) -> list[object] | dict[str, object]:
    """Parameters for ``execute``: a mapping binds ``$name`` parameters, anything else ``?`` in order."""
    return dict(params) if isinstance(params, Mapping) else list(params)


def replace_date_range(
    con: duckdb.DuckDBPyConnection,
    *,
    table: str,
    date_column: str,
    start: date,
    end: date,
    select_sql: str,
    params: Iterable[object] | Mapping[str, object] = (),
    extra_filter: str = "",
    exists: bool | None = None,
) -> int:
    """Replace the rows of ``table`` whose ``date_column`` lies in [start, end) by ``select_sql``.

    All or nothing: the delete and the insert run in one transaction, so a failed run leaves the
    previous partition in place and a rerun never duplicates rows. The table is created from the
    query's shape on first use. ``params``: positional values, or a mapping for ``$name``
    parameters. ``exists``: whether the caller knows the table exists (None: looked up). Returns the
    number of rows inserted.
    """
    params = _bound(params)
    # Create the empty table outside the transaction: DuckDB 2.0.0 reads a table created empty and
    # filled with >~122k rows inside one transaction as empty on the same connection.
    if not (table_exists(con, table) if exists is None else exists):
        schema_change(con, f"CREATE TABLE {table} AS SELECT * FROM ({select_sql}) WHERE false", params, table=table)
    else:
        add_new_columns(con, table, select_sql, params)
    where = f"{date_column} >= ? AND {date_column} < ?" + (f" AND {extra_filter}" if extra_filter else "")

    def replace() -> int:
        con.execute(f"DELETE FROM {table} WHERE {where}", [start, end])
        # In day order: rows in the order a parallel query leaves them made DuckDB recompress the
        # new row groups at the checkpoint when the step's connection closed (a year of order
        # lines: 0.60 s, 0.04 s in day order); the sort costs memory (+150-200 MB at the UCI year,
        # docs/scaling.md), and a day's own rows are the zone maps' unit for later day reads.
        inserted = con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM ({select_sql}) ORDER BY {date_column}",
                               params).fetchone()[0]
        return int(inserted)

    # On a DuckLake, another process may commit other days of the same table meanwhile (partitions
    # in parallel): the commit then fails whole, and the replacement is done again.
    return in_transaction(con, replace, writes=(table,))


def add_new_columns(con: duckdb.DuckDBPyConnection, table: str, select_sql: str, params: list | dict) -> list[str]:
    """Add to a partitioned ``table`` the columns its query has gained since the table was created.

    A new version of the platform may add a column (``daily_sales.aov_orders``); the next run on a
    warehouse built before would otherwise fail its ``INSERT BY NAME``. Rows of days not rebuilt
    since hold NULL there until a backfill rebuilds them. The names and types come from DuckDB's
    catalog (the query's own result shape), never from input, and are quoted as identifiers."""
    # The query's column names without running it (WHERE false); a temp table for their types only
    # when one is missing, so the usual run, with nothing new, costs one plan and one catalog read.
    shape = con.execute(f"SELECT * FROM ({select_sql}) WHERE false", params)
    wanted = [column[0] for column in shape.description]
    shape.fetchall()  # drain: DuckDB 2 keeps an open result, which blocks the next statement's plan
    have = {name for name, _ in table_schema(con, table)}
    if all(name in have for name in wanted):
        return []
    con.execute(f"CREATE OR REPLACE TEMP TABLE _new_shape AS SELECT * FROM ({select_sql}) WHERE false", params)
    missing = [(name, dtype) for name, dtype in table_schema(con, "_new_shape") if name not in have]
    # by its full name: unqualified, DROP looks in the warehouse first, which on a DuckLake starts a
    # lake transaction (its snapshot read from the catalog, ~2.4 ms)
    con.execute("DROP TABLE temp.main._new_shape")
    for name, dtype in missing:
        quoted = '"' + name.replace('"', '""') + '"'
        schema_change(con, f"ALTER TABLE {table} ADD COLUMN {quoted} {dtype}", table=table)  # a type DuckDB itself reported
    return [name for name, _ in missing]


def replace_table(
    con: duckdb.DuckDBPyConnection, *, table: str, select_sql: str, params: Iterable[object] | Mapping[str, object] = (),
) -> int:
    """Atomically rebuild a whole (unpartitioned) table from a query (``params`` as in ``replace_date_range``),
    with its documented columns' comments (lib/warehouse/columns.toml) in the same transaction."""
    return in_transaction(con, lambda: rebuild_table(con, table, select_sql, params), writes=(table,))


def rebuild_table(con: duckdb.DuckDBPyConnection, table: str, select_sql: str,
                  params: Iterable[object] | Mapping[str, object] = ()) -> int:
    """Make ``table`` hold exactly the rows of ``select_sql``, with the columns' descriptions, inside
    the caller's transaction; returns the number of rows. ``con`` may be a builder's statement log:
    it records the statements that write the table, not the lookups deciding how. ``select_sql``
    must not read ``table`` itself: on a DuckLake its rows are deleted before the query runs (every
    caller reads a staging table, a frame or other tables).

    On a DuckLake, a table that exists with the query's columns and types has its rows replaced
    (``DELETE``, ``INSERT``): a ``CREATE OR REPLACE`` is a change of the catalog, whose commit
    costs more and makes the next statement reload the lake's schema, and it drops the columns'
    comments, written again. Replacing dim_products on the 30-day bench lake and reading it after:
    125 + 73 ms by ``CREATE OR REPLACE``, 52 + 23 ms by delete and insert, whose old file leaves the
    table whole (no delete file). Anywhere else, and when the query's shape changed (a new release),
    the table is created anew. A DuckDB file keeps ``CREATE OR REPLACE``: it does not reclaim the
    space of rows deleted (twenty replacements of dim_customers' 26k rows grew it by 4.5 MB, none
    when created anew), and on a large table it was the faster there (23 against 38 ms)."""
    bound = _bound(params)
    probe = getattr(con, "con", con)  # the connection itself, under a statement log
    if _on_lake(probe) and (current := schema_if_exists(probe, table)) is not None:
        shape = probe.execute(f"SELECT * FROM ({select_sql}) LIMIT 0", bound)
        columns = [(column[0], str(column[1])) for column in shape.description]
        shape.fetchall()  # drained: DuckDB 2 keeps an open result, which blocks the next statement's plan
        if columns == current:
            con.execute(f"DELETE FROM {table}")
            return int(con.execute(f"INSERT INTO {table} {select_sql}", bound).fetchone()[0])
    rows = int(con.execute(f"CREATE OR REPLACE TABLE {table} AS {select_sql}", bound).fetchone()[0])
    write_comments(con, table)
    return rows


def schema_if_exists(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]] | None:
    """:func:`table_schema`, or None when there is no such table: one binding of the name, not two."""
    try:
        return table_schema(con, table)
    except duckdb.CatalogException:
        return None


def _on_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Is the warehouse this connection writes to (its default database) a DuckLake?"""
    return con.execute("SELECT type FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0] == "ducklake"


def table_schema(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(column, type) pairs of a warehouse table (or a temp table), in column order; the types as
    DuckDB writes them (``DECIMAL(18,2)``, ``STRUCT(...)[]``), as information_schema.columns gives
    them. Read from the bound relation: 0.03 ms on a DuckDB file and 2.8 ms on a DuckLake, against
    2.7 and 6.2 ms through information_schema.columns (30 days of history)."""
    relation = con.table(table)
    return [(name, str(dtype)) for name, dtype in zip(relation.columns, relation.types, strict=True)]


@dataclass(frozen=True)
class IncrementalBuild:
    """What an incremental builder did (``mode``: full, or what it recomputed) and what the table
    is, as SQL: the statements a full build runs, for column lineage (an incremental build runs the
    same SELECTs over fewer rows, and the lineage of what it computes is the same)."""

    mode: str
    sql: list[str]


def stored_state_matches(con: duckdb.DuckDBPyConnection, tables: Sequence[str], query: str,
                         params: Iterable[object] | Mapping[str, object] = ()) -> bool:
    """Can an incremental builder trust what it stored: every table of its state exists, and the
    first (the one ``query`` fills) has exactly the columns the query makes now; a release that
    changed the query rebuilds it whole. The query is planned, not run (LIMIT 0)."""
    if not all(table_exists(con, name) for name in tables):
        return False
    made = con.execute(f"SELECT * FROM ({query}) LIMIT 0", _bound(params)).description
    return [column[0] for column in made] == [name for name, _ in table_schema(con, tables[0])]


def unique_key(con: duckdb.DuckDBPyConnection, table: str, key: str) -> tuple[bool, dict[str, object]]:
    """Check outcome: does ``key`` (one column or a comma-separated list) identify one row of ``table``?"""
    repeated = con.execute(
        f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY ALL HAVING count(*) > 1)"
    ).fetchall()[0][0]
    return repeated == 0, {"key": key, "repeated_keys": repeated}


def unique_key_in_days(
    con: duckdb.DuckDBPyConnection, table: str, key: str, date_column: str, start: date, end: date,
    reach: tuple[date, date] | None = None,
) -> tuple[bool, dict[str, object]]:
    """Check outcome of :func:`unique_key` for the rows of [``start``, ``end``) on ``date_column``
    just written: no ``key`` (one column) twice among them, nor shared with a row of another day.

    Equivalent to the whole-table check when the other days were unique when they were written
    (their rows are not touched by a write of these days). Only the written days' keys are hashed;
    the other days are streamed past them once (a semi-join), so memory follows the days written.
    ``reach``: [first, end) of the days a copy of a written key can be on (the writer's own
    re-delivery window): only those are streamed, a constant bound that zone maps prune on, so the
    cost follows the window and not the table; None: every other day. ``table``, ``key`` and
    ``date_column`` are code constants."""
    params: dict[str, date] = {"start": start, "end": end}
    within = ""
    if reach is not None:
        # bounds as constants in the text's shape (bound values), so the scan prunes on them
        within = f"AND {date_column} >= $low AND {date_column} < $high"
        params |= {"low": reach[0], "high": reach[1]}
    repeated = con.execute(
        f"""WITH written AS (SELECT {key} FROM {table} WHERE {date_column} >= $start AND {date_column} < $end)
        SELECT count(*) FROM (
            SELECT {key} FROM written GROUP BY ALL HAVING count(*) > 1
            UNION
            SELECT {key} FROM {table} SEMI JOIN written USING ({key})
            WHERE ({date_column} < $start OR {date_column} >= $end OR {date_column} IS NULL) {within}
        )""",
        params,
    ).fetchall()[0][0]
    outcome: dict[str, object] = {"key": key, "repeated_keys": repeated, "days": f"{start}..{end - timedelta(days=1)}"}
    if reach is not None:
        outcome["compared_with_days"] = f"{reach[0]}..{reach[1] - timedelta(days=1)}"
    return repeated == 0, outcome


def rows_failing(
    con: duckdb.DuckDBPyConnection, table: str, failing: Mapping[str, str], where: str = "true", params: object = None,
) -> dict[str, int]:
    """For each named condition that marks a row as failing, how many rows of ``table`` (filtered
    by ``where``) meet it, in one scan; conditions no row meets are left out."""
    counts = con.execute(
        f"SELECT {', '.join(f'count(*) FILTER (WHERE {condition})' for condition in failing.values())} "
        f"FROM {table} WHERE {where}",
        params or {},
    ).fetchall()[0]
    return {name: int(n) for name, n in zip(failing, counts) if n}
