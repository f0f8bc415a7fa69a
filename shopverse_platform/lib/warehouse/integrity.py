"""Whether a DuckLake is whole (``shopverse warehouse check``): its SQLite catalog passes SQLite's
own integrity check, and every Parquet file its current snapshot names is where it says.

A catalog written under a lost lock (lib/warehouse/lake.py, above ``sqlite_catalog_created``: a
version before session 24, or a process that opened the catalog with Python's sqlite3 while it had
the lake attached) may hold rows in the wrong table, which DuckLake either refuses to load ("Invalid
type in column") or reads as they are. A data file deleted by hand, or by a second lake sharing the
data folder, fails the first query that needs it. Both are read here without loading the lake
first: the catalog through DuckDB's SQLite (never Python's), then the lake read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from shopverse_platform.lib.warehouse.lake import (LakeLocation, attach, catalog_pragma, extension_loading_settings,
                                                   load_extensions, quoted_identifier)

CHECKED_ALIAS = "checked_lake"


@dataclass
class LakeIntegrity:
    catalog_problems: list[str] = field(default_factory=list)  # SQLite's integrity_check, or why it could not run
    catalog_checked: bool = False  # False: a PostgreSQL catalog (its integrity is the server's)
    files_listed: int = 0
    files_missing: list[str] = field(default_factory=list)
    files_not_checked: int = 0  # on object storage

    @property
    def whole(self) -> bool:
        return not self.catalog_problems and not self.files_missing


def catalog_problems(con: duckdb.DuckDBPyConnection, catalog: Path) -> list[str]:
    """SQLite's ``integrity_check`` of the catalog file, read through DuckDB's SQLite (``con`` has
    the sqlite extension loaded): nothing when it says ok."""
    if not catalog.exists():
        return [f"no catalog at {catalog}"]
    try:
        rows = catalog_pragma(con, catalog, "integrity_check")
    except duckdb.Error as error:
        return [f"the catalog cannot be read: {error}"]
    return [] if rows == [("ok",)] else [str(row[0]) for row in rows]


def data_files(con: duckdb.DuckDBPyConnection, alias: str) -> list[str]:
    """Every data and delete file the lake's current snapshot names, over all its tables."""
    tables = [name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' ORDER BY 1",
        [alias]).fetchall()]
    files: list[str] = []
    for name in tables:
        for data_file, delete_file in con.execute(
                "SELECT data_file, delete_file FROM ducklake_list_files(?, ?)", [alias, name]).fetchall():
            files.append(data_file)
            if delete_file:
                files.append(delete_file)
    return files


def check_lake(location: LakeLocation) -> LakeIntegrity:
    """The lake's catalog (a SQLite one) and its files, in an instance of its own, read-only."""
    result = LakeIntegrity()
    con = duckdb.connect(config=extension_loading_settings())
    try:
        file = location.catalog_file()
        if file is not None:
            load_extensions(con, location.catalog_kind)
            result.catalog_problems = catalog_problems(con, file)
            result.catalog_checked = True
            if result.catalog_problems:
                return result  # a lake whose catalog is damaged is not loaded
        attach(con, location, CHECKED_ALIAS, read_only=True)
        files = data_files(con, CHECKED_ALIAS)
        result.files_listed = len(files)
        for path in files:
            if "://" in path:
                result.files_not_checked += 1
            elif not Path(path).exists():
                result.files_missing.append(path)
        con.execute(f"DETACH {quoted_identifier(CHECKED_ALIAS)}")
    finally:
        con.close()
    return result
