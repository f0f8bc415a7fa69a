"""A SQLite catalog is opened in a lake process only through DuckDB's own SQLite
(lib/warehouse/lake.py, above ``sqlite_catalog_created``). Python's sqlite3 is another copy of
SQLite, and POSIX locks belong to the process: its closing the catalog released the locks DuckDB's
SQLite held, and another process wrote under them (a catalog whose metadata table held snapshot
rows, session 24). The first test shows the hazard on SQLite itself, the others that the platform
no longer opens the catalog with Python's sqlite3 and still puts a new catalog in WAL mode."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import duckdb
import pytest

from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse import lake

# Another process's attempt to take the catalog's write lock at once: "locked" or "free".
OTHER_WRITER = textwrap.dedent("""
    import sqlite3, sys
    other = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        print("free")
    except sqlite3.OperationalError:
        print("locked")
""")


def _other_process_may_write(catalog) -> str:
    return subprocess.run([sys.executable, "-c", OTHER_WRITER, str(catalog)], capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()


def test_closing_a_second_sqlite_copy_on_the_file_releases_the_first_ones_lock(tmp_path):
    """The hazard itself: while DuckDB's SQLite holds the catalog's write lock (a transaction that
    has written), another process cannot take it; once Python's sqlite3 has opened and closed the
    same file in this process, it can."""
    catalog = tmp_path / "catalog.sqlite"
    setup = sqlite3.connect(catalog)
    setup.execute("CREATE TABLE t (x INTEGER)")
    setup.commit()
    setup.close()
    con = duckdb.connect(config=lake.extension_loading_settings())
    lake.load_extensions(con, "sqlite")
    con.execute(f"ATTACH '{catalog}' AS cat (TYPE sqlite)")
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO cat.t VALUES (1)")
    assert _other_process_may_write(catalog) == "locked"
    sqlite3.connect(catalog).close()  # what the platform did to read the catalog's schema version
    assert _other_process_may_write(catalog) == "free", "the process's lock went with the other copy's close"
    con.execute("ROLLBACK")
    con.close()


@pytest.fixture
def no_python_sqlite(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"Python's sqlite3 opened {args[0] if args else kwargs} in a lake process")
    monkeypatch.setattr(sqlite3, "connect", refuse)
    lake.release_instances()
    yield
    lake.release_instances()


def test_a_lake_is_created_written_and_read_without_pythons_sqlite(tmp_path, no_python_sqlite):
    catalog = tmp_path / "shopverse.sqlite"
    warehouse = Warehouse(path=f"ducklake:sqlite:{catalog}")
    with warehouse.connect() as con:  # creates the lake: WAL mode set by a process of its own
        con.execute("CREATE TABLE orders AS SELECT range AS order_id FROM range(4)")
        con.execute("CREATE TABLE never_filled (order_id BIGINT NOT NULL)")
    with warehouse.connect() as con:  # the close above primed the never-filled table: schema version read
        assert lake.never_filled_tables(con, warehouse.lineage_name()) == []
        assert lake.journal_mode(con, catalog) == "wal"
    lake.release_instances()
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT sum(order_id) FROM orders").fetchone() == (6,)
    assert lake.sqlite_catalog_created(catalog) is True
    assert lake.parse_location(f"ducklake:sqlite:{catalog}").attach_data_path() is None


def test_a_catalog_in_wal_mode_is_not_changed_again(tmp_path, monkeypatch):
    catalog = tmp_path / "shopverse.sqlite"
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
        runs = []
        monkeypatch.setattr(lake.subprocess, "run", lambda *a, **k: runs.append(a) or pytest.fail("changed again"))
        assert lake.use_write_ahead_log(catalog, con) is False and runs == []
    lake.release_instances()
