"""Column descriptions of the warehouse tables, from their one source: ``columns.toml`` beside this file.

The Dagster UI (``dagster/column_schema``, filled by ``defs/asset_helpers.table_metadata``),
OpenLineage (the schema facet's field descriptions, ``defs/lineage/observer.py``) and the warehouse
itself (each column's ``COMMENT``, written by :func:`comment_columns`, so an analyst querying
``duckdb_columns()`` reads the same text) all read them here: a description is written once and
they never disagree. TOML (stdlib ``tomllib``), so
prose needs no escaping rules beyond quotes and nothing is read as a date or a boolean.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path

import duckdb

from shopverse_platform.lib.warehouse.lake import quoted_identifier, string_literal
from shopverse_platform.lib.warehouse.transactions import in_transaction

COLUMNS_FILE = Path(__file__).with_name("columns.toml")


@cache
def column_docs() -> dict[str, dict[str, str]]:
    """table -> column -> description, for every documented table."""
    with COLUMNS_FILE.open("rb") as handle:
        return tomllib.load(handle)


def column_descriptions(table: str) -> dict[str, str]:
    """column -> description of ``table`` (``main.x`` or ``x``); empty for an undocumented table."""
    return column_docs().get(table.split(".")[-1], {})


def column_description(table: str, column: str) -> str | None:
    return column_descriptions(table).get(column)


def comment_columns(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Write the description of every documented column of ``table`` into the warehouse as the
    column's ``COMMENT``; call it after the table is written (a ``CREATE OR REPLACE`` drops the
    comments). Returns how many comments it wrote (those already right are left alone)."""
    return comment_tables(con, [table])


def comment_tables(con: duckdb.DuckDBPyConnection, tables: Iterable[str],
                   listed: Mapping[str, list[tuple[str, str, str | None]]] | None = None) -> int:
    """:func:`comment_columns` for several tables (an asset and what its step writes beside it):
    their comments read in one listing (:func:`columns_with_comments`; ``listed``: that listing, when
    the caller has made it), the missing ones written in one transaction."""
    names = [table.split(".")[-1] for table in tables]
    if listed is None:
        listed = columns_with_comments(con, [name for name in names if column_descriptions(name)])
    statements = {name: _comment_statements(name, {column: comment for column, _, comment in listed.get(name, [])})
                  for name in names}
    return _write(con, [statement for name in names for statement in statements[name]],
                  [name for name in names if statements[name]])


def _write(con: duckdb.DuckDBPyConnection, statements: list[str], tables: list[str]) -> int:
    if statements:
        # One transaction: on a DuckLake every commit is a snapshot written to the catalog (~40 ms
        # each), and a table's comments one by one took ~1 s; in one they are one snapshot. Written
        # again when the commit met another process's (a step beside it under --workers). A comment
        # alters its table: on PostgreSQL it takes the tables' write turns (write_turns).
        in_transaction(con, lambda: con.execute(";\n".join(statements)), writes=tables)
    return len(statements)


def write_comments(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """:func:`comment_columns` for a caller inside a transaction, the one that has just (re)created
    ``table``: its comments are committed with it. A ``CREATE OR REPLACE`` drops them, and written
    after its commit they were a second commit, and a moment in which a reader saw the table
    without them. On a DuckLake each commit that changes the catalog is a snapshot and makes the next
    statement reload the schema: replacing seasonality and commenting a column of it took 200-238 ms
    in two commits, 121-135 ms in one (on a DuckDB file 3.6-3.7 ms against 2.8-3.3 ms).

    The table was just created, so it has no comment yet (on a DuckDB file and on a DuckLake alike):
    its columns are read from the bound name, not with their comments from duckdb_columns(), which
    lists every column of every attached database (~2 ms on a file, ~5 ms on a lake, per table).

    ``con`` may be a builder's statement log (``defs/lineage/sql_lineage.StatementLog``, which keeps
    the connection as ``.con``): the comments go through the connection itself, being no part of the
    SQL that builds the table, whose text lineage reads."""
    name = table.split(".")[-1]
    if not column_descriptions(name):
        return 0  # an undocumented table: nothing to write, and no name to bind (~3 ms on a lake)
    con = getattr(con, "con", con)
    statements = _comment_statements(name, {column: None for column in con.table(name).columns})
    if statements:
        con.execute(";\n".join(statements))  # in one call, as _write does
    return len(statements)


def _comment_statements(name: str, current: Mapping[str, str | None]) -> list[str]:
    """The ``COMMENT`` statements that bring the columns of the table ``name`` (bare, as both callers
    have it; ``current``: column -> its comment now) to their descriptions."""
    descriptions = column_descriptions(name)
    # COMMENT ON takes its text as a literal only: DuckDB's parser accepts no parameter there
    # ("syntax error at or near ?"), so the description is quoted here as a SQL string literal.
    # Only comments that differ are written: a daily run writes the same descriptions again and
    # each COMMENT is a catalog change (13 ms a table on every materialization otherwise).
    return [f"COMMENT ON COLUMN {quoted_identifier(name)}.{quoted_identifier(column)} IS {string_literal(descriptions[column])}"
            for column, comment in current.items() if column in descriptions and comment != descriptions[column]]


def columns_with_comments(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> dict[str, list[tuple[str, str, str | None]]]:
    """table -> its (column, type, comment), in column order, for the warehouse tables ``tables``
    (those absent are left out): one listing of ``duckdb_columns()`` for all of them. That listing
    reads every column of every attached database whatever the filter (~5 ms on the daily run's
    DuckDB file, ~10 ms on a lake), so a step makes one for its asset and the tables beside it."""
    listed: dict[str, list[tuple[str, str, str | None]]] = {}
    if tables:
        for name, column, dtype, comment in con.execute(
                "SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
                "WHERE database_name = current_database() AND schema_name = 'main' AND list_contains(?, table_name) "
                "ORDER BY table_name, column_index", [[table.split(".")[-1] for table in tables]]).fetchall():
            listed.setdefault(name, []).append((column, dtype, comment))
    return listed
