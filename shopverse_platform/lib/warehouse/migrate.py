"""Move a DuckDB-file warehouse into a DuckLake, in one transaction (``shopverse warehouse migrate``).

Every table of the file is copied as it is, the incremental builders' state tables included
(``sessions_sources``, ``customer_totals``...), so the next daily run on the lake continues where
the file left off instead of rebuilding; column comments come along. The copy is one DuckLake
transaction: one snapshot, all tables or none (an interrupted migration leaves an empty lake, and
running it again starts over). The file is read under the platform's warehouse lock, so no run
writes it meanwhile, and it is left in place: once the lake is in use it can be deleted.

Not carried over: key constraints (the ``alerts`` table's PRIMARY KEY of warehouses made before
session 8; DuckLake has none, and inserting an alert checks its id instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shopverse_platform.lib.warehouse.lake import prime_table_statistics, quoted_identifier
from shopverse_platform.lib.warehouse.lock import warehouse_lock
from shopverse_platform.lib.warehouse.tables import transaction

SOURCE_ALIAS = "migration_source"


class MigrationRefused(RuntimeError):
    """The migration would overwrite or lose something: nothing was changed."""


@dataclass(frozen=True)
class MigratedTable:
    name: str
    rows: int
    comments: int


def source_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' ORDER BY table_name",
        [SOURCE_ALIAS]).fetchall()]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def migrate_file_to_lake(source: Path, lake_con: duckdb.DuckDBPyConnection,
                         echo: Callable[[str], None] = print) -> list[MigratedTable]:
    """Copy every table of the DuckDB file ``source`` into the (empty) lake ``lake_con`` is using."""
    if not source.exists():
        raise MigrationRefused(f"no DuckDB warehouse at {source}")
    lake = lake_con.execute("SELECT current_database()").fetchall()[0][0]
    existing = lake_con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()").fetchall()[0][0]
    if existing:
        raise MigrationRefused(f"the lake {lake} already holds {existing} table(s): migrate into an empty one")
    with warehouse_lock(source, timeout=600.0):
        # ATTACH takes no bound parameters; the path is the configured warehouse file, quoted.
        lake_con.execute(f"ATTACH {_literal(str(source))} AS {SOURCE_ALIAS} (READ_ONLY)")
        try:
            migrated = _copy(lake_con, echo)
        finally:
            lake_con.execute(f"DETACH {SOURCE_ALIAS}")
    # the tables copied empty (an events-only shop's order tables) would otherwise read slowly until
    # the next process writing to the lake gives them their statistics (lake.prime_table_statistics)
    prime_table_statistics(lake_con, lake)
    return migrated


def _copy(con: duckdb.DuckDBPyConnection, echo: Callable[[str], None]) -> list[MigratedTable]:
    tables = source_tables(con)
    copied: list[MigratedTable] = []
    with transaction(con):
        for name in tables:
            table = quoted_identifier(name)  # a name DuckDB listed
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM {SOURCE_ALIAS}.main.{table}")
            comments = con.execute(
                "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
                "AND table_name = ? AND comment IS NOT NULL ORDER BY column_index", [SOURCE_ALIAS, name]).fetchall()
            for column, comment in comments:
                # COMMENT ON takes a literal only (lib/warehouse/column_docs.py): quoted here
                con.execute(f"COMMENT ON COLUMN {table}.{quoted_identifier(column)} IS {_literal(comment)}")
            copied.append(MigratedTable(name, 0, len(comments)))
        # Counted inside the transaction, against the file: what is committed is what was read.
        checked: list[MigratedTable] = []
        for item in copied:
            table = quoted_identifier(item.name)
            moved, original = con.execute(
                f"SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM {SOURCE_ALIAS}.main.{table})").fetchall()[0]
            if moved != original:
                raise MigrationRefused(f"{item.name}: {moved} rows copied of {original}")
            checked.append(MigratedTable(item.name, int(moved), item.comments))
    for item in checked:
        echo(f"  {item.name:<28} {item.rows:>12,} rows")
    return checked
