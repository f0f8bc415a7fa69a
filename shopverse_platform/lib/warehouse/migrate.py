"""Move a DuckDB-file warehouse, or another DuckLake, into a DuckLake, in one transaction
(``shopverse warehouse migrate``).

Every table of the file is copied as it is, the incremental builders' state tables included
(``sessions_sources``, ``customer_totals``...), so the next daily run on the lake continues where
the file left off instead of rebuilding; column comments come along. The copy is one DuckLake
transaction: one snapshot, all tables or none (an interrupted migration leaves an empty lake, and
running it again starts over). The file is read under the platform's warehouse lock, so no run
writes it meanwhile, and it is left in place: once the lake is in use it can be deleted.

From a lake: moving an embedded lake's catalog into PostgreSQL, or its data onto object storage,
when a shop outgrows one machine; or rebuilding a lake made by an older version (DuckLake's data
inlining gave each of its tables a table in the catalog that every read of it queries; a lake
created now has none, docs/scaling.md, session 23). No lock is needed: the copy reads the source's
snapshot at its start, so a run committing meanwhile is wholly in the copy or wholly out of it
(its days are rebuilt by running them again on the new lake). The source is left as it was.

Not carried over: key constraints (the ``alerts`` table's PRIMARY KEY of warehouses made before
session 8; DuckLake has none, and inserting an alert checks its id instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shopverse_platform.lib.warehouse.lake import (LakeLocation, attach, prime_table_statistics, quoted_identifier,
                                                   string_literal)
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


def _empty_target(lake_con: duckdb.DuckDBPyConnection) -> str:
    """The name of the lake ``lake_con`` is using, refused unless it holds no table."""
    lake = lake_con.execute("SELECT current_database()").fetchall()[0][0]
    existing = lake_con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()").fetchall()[0][0]
    if existing:
        raise MigrationRefused(f"the lake {lake} already holds {existing} table(s): migrate into an empty one")
    return lake


def _copied_and_primed(lake_con: duckdb.DuckDBPyConnection, lake: str, echo: Callable[[str], None]) -> list[MigratedTable]:
    """Copy the attached source's tables, detach it, and prime the tables copied empty."""
    try:
        migrated = _copy(lake_con, echo)
    finally:
        lake_con.execute(f"DETACH {SOURCE_ALIAS}")
    # the tables copied empty (an events-only shop's order tables) would otherwise read slowly until
    # the next process writing to the lake gives them their statistics (lake.prime_table_statistics)
    prime_table_statistics(lake_con, lake)
    return migrated


def migrate_file_to_lake(source: Path, lake_con: duckdb.DuckDBPyConnection,
                         echo: Callable[[str], None] = print) -> list[MigratedTable]:
    """Copy every table of the DuckDB file ``source`` into the (empty) lake ``lake_con`` is using."""
    if not source.exists():
        raise MigrationRefused(f"no DuckDB warehouse at {source}")
    lake = _empty_target(lake_con)
    with warehouse_lock(source, timeout=600.0):
        # ATTACH takes no bound parameters; the path is the configured warehouse file, quoted.
        lake_con.execute(f"ATTACH {string_literal(str(source))} AS {SOURCE_ALIAS} (READ_ONLY)")
        return _copied_and_primed(lake_con, lake, echo)


def _same_data_path(one: str, other: str) -> bool:
    if "://" in one or "://" in other:
        return one.rstrip("/") == other.rstrip("/")
    return Path(one).resolve() == Path(other).resolve()


def refuse_shared_data_path(source: LakeLocation, target: LakeLocation) -> None:
    """Refuse a migration between two lakes that are one, or whose Parquet would share a folder: a
    lake's maintenance deletes the files under its data path that its own catalog does not list,
    which would be the other lake's."""
    if source.attach_target == target.attach_target:
        raise MigrationRefused(f"{source.describe()} is the lake to migrate from and to: name another with --to")
    source_path = source.stored_data_path()
    if source_path is None:
        raise MigrationRefused(f"no DuckLake at {source.describe()}")
    target_path = target.stored_data_path() or target.attach_data_path()
    if target_path is not None and _same_data_path(source_path, target_path):
        raise MigrationRefused(
            f"both lakes would keep their Parquet files in {source_path}, and each one's maintenance would delete "
            "the other's: give the new lake a data path of its own (--data-path, or $SHOPVERSE_WAREHOUSE_DATA_PATH)")


def migrate_lake_to_lake(source: LakeLocation, target: LakeLocation, lake_con: duckdb.DuckDBPyConnection,
                         echo: Callable[[str], None] = print) -> list[MigratedTable]:
    """Copy every table of the lake ``source`` into the (empty) lake ``target``, which ``lake_con``
    is using, as of the source's snapshot when the copy starts."""
    refuse_shared_data_path(source, target)
    lake = _empty_target(lake_con)
    attach(lake_con, source, SOURCE_ALIAS, read_only=True)
    return _copied_and_primed(lake_con, lake, echo)


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
                con.execute(f"COMMENT ON COLUMN {table}.{quoted_identifier(column)} IS {string_literal(comment)}")
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
