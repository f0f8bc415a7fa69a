"""A writing lake connection's reads share transactions (lib/warehouse/read_groups.py): which
statements join a group, what ends one, and that nothing written or read changes with them."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse import lake, read_groups, switches
from shopverse_platform.lib.warehouse.read_groups import ReadGroups, statement_kind
from shopverse_platform.lib.warehouse.tables import table_exists
from shopverse_platform.lib.warehouse.transactions import transaction


@pytest.mark.parametrize(("sql", "kind"), [
    ("SELECT count(*) FROM a", "read"),
    ("-- a comment first\nWITH x AS (SELECT 1) SELECT * FROM x", "read"),
    ("DESCRIBE a", "read"),
    ("PRAGMA table_info('a')", "read"),
    ("EXPLAIN SELECT 1", "read"),
    ("-- staged\n/* rows */ CREATE OR REPLACE TEMP TABLE _new AS SELECT * FROM a", "read"),
    ("CREATE TEMPORARY VIEW v AS SELECT 1", "read"),
    ("DROP TABLE IF EXISTS temp.main._new", "read"),
    ('INSERT INTO "temp".main._new SELECT 1', "read"),
    ("SELECT 1; CREATE TEMP TABLE t AS SELECT 1", "read"),
    ("SET memory_limit = '1GB'", "neutral"),
    ("RESET threads", "neutral"),
    ("BEGIN TRANSACTION", "begin"),
    ("-- the caller's own\nBEGIN TRANSACTION", "begin"),  # a comment first is not the first word
    ("START TRANSACTION", "begin"),
    ("COMMIT", "end"),
    ("ROLLBACK", "end"),
    # the lake's own: writes, schema changes, and anything not known to read
    ("INSERT INTO a SELECT 1", "other"),
    ("DELETE FROM a WHERE day = 1", "other"),
    ("DROP TABLE _new", "other"),  # unqualified: DuckDB may find a lake table of that name
    ("DROP TABLE temp_a", "other"),
    ("CREATE TABLE temp AS SELECT 1", "other"),
    ("CREATE TABLE IF NOT EXISTS b (day INTEGER)", "other"),
    ("ALTER TABLE a ADD COLUMN w INTEGER", "other"),
    ("CHECKPOINT", "other"),
    ("CALL ducklake_expire_snapshots('shopverse', older_than => now())", "other"),
    ("COPY (SELECT 1) TO 'x.csv'", "other"),
    ("SELECT 1; INSERT INTO a SELECT 1", "other"),
    ("SELEC 1", "other"),  # DuckDB cannot parse it: it fails on its own, outside any group
])
def test_statement_kinds(sql, kind):
    assert statement_kind(sql) == kind


def _lake(tmp_path: Path, monkeypatch) -> Warehouse:
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    monkeypatch.delenv(read_groups.READ_GROUPS_VARIABLE, raising=False)
    warehouse = Warehouse(path=f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}")
    with warehouse.connect() as con:
        con.execute("CREATE TABLE a (day INTEGER, v BIGINT)")
        con.execute("INSERT INTO a SELECT i % 5, i FROM range(100) r(i)")
    return warehouse


def _count(con) -> int:
    return con.execute("SELECT count(*) FROM a").fetchone()[0]


def _in_the_same_group(con, other) -> bool:
    """Whether ``con``'s next read is in the transaction of its last: it does not see a row
    ``other`` (another connection) commits meanwhile. (DuckDB's txid_current() fails on a lake.)"""
    before = _count(con)
    other.execute("INSERT INTO a VALUES (-1, -1)")
    return _count(con) == before


@pytest.fixture(autouse=True)
def _release_lake_instances(monkeypatch):
    # A group ends at its first read after GROUP_MAX_SECONDS: long enough here that a slow machine
    # does not end one between two reads a test expects in the same group.
    monkeypatch.setattr(read_groups, "GROUP_MAX_SECONDS", 60.0)
    yield
    lake.release_instances()


def test_reads_share_a_transaction_until_a_write_which_they_then_see(tmp_path, monkeypatch):
    warehouse = _lake(tmp_path, monkeypatch)
    with warehouse.connect() as con, warehouse.connect() as other:
        assert isinstance(con, ReadGroups)
        assert _count(con) == 100
        assert table_exists(con, "a") and not table_exists(con, "missing")
        con.execute("CREATE TEMP TABLE _staged AS SELECT * FROM a WHERE day = 1")
        assert _in_the_same_group(con, other)
        assert _count(con) == 100  # the row other committed is not seen yet
        con.execute("INSERT INTO a SELECT 9, v FROM _staged")  # a write: committed by itself, now
        assert _count(other) == 121  # another connection sees it at once
        assert _count(con) == 121  # and this one, in a new group, sees both
        assert con.execute("SELECT count(*) FROM _staged").fetchone()[0] == 20  # the temp table stays


def test_another_connections_commit_shows_in_the_next_group(tmp_path, monkeypatch):
    warehouse = _lake(tmp_path, monkeypatch)
    with warehouse.connect() as con, warehouse.connect() as other:
        assert _in_the_same_group(con, other)
        con.close_group()
        assert _count(con) == 101
        other.execute("INSERT INTO a VALUES (8, 8)")
        assert _count(con) == 101
        con.max_age = 0.2
        time.sleep(0.3)  # the group is older than its limit: the next read begins another
        assert _count(con) == 102


def test_a_statement_failing_in_a_group_ends_it_and_the_next_statement_runs(tmp_path, monkeypatch):
    warehouse = _lake(tmp_path, monkeypatch)
    with warehouse.connect() as con, warehouse.connect() as other:
        assert _count(con) == 100
        with pytest.raises(duckdb.CatalogException):
            con.execute("SELECT * FROM missing")  # a name that does not bind: the group goes on
        assert _in_the_same_group(con, other)
        with pytest.raises(duckdb.ConversionException):
            con.execute("SELECT CAST(v || 'x' AS INTEGER) FROM a")  # fails running: the group ends
        assert _count(con) == 101


def test_explicit_transactions_are_the_callers_and_reads_in_them_join_them(tmp_path, monkeypatch):
    warehouse = _lake(tmp_path, monkeypatch)
    with warehouse.connect() as con, warehouse.connect(read_only=True) as reader:
        assert _count(con) == 100
        with transaction(con):
            con.execute("DELETE FROM a WHERE day = 0")
            assert _count(con) == 80
            assert reader.execute("SELECT count(*) FROM a").fetchone()[0] == 100  # not committed yet
        assert reader.execute("SELECT count(*) FROM a").fetchone()[0] == 80
        with pytest.raises(RuntimeError), transaction(con):
            con.execute("DELETE FROM a")
            raise RuntimeError("rolled back")
        assert _count(con) == 80
        con.begin()  # the connection's own methods bound a transaction too
        con.execute("DELETE FROM a WHERE day = 1")
        con.rollback()
        assert _count(con) == 80


def test_closing_the_connection_ends_its_group(tmp_path, monkeypatch):
    warehouse = _lake(tmp_path, monkeypatch)
    with warehouse.connect() as con:
        assert _count(con) == 100
        con.close()  # commits the group (nothing in it to write), then closes
        with pytest.raises(duckdb.ConnectionException):
            con.execute("SELECT 1")


def test_only_writing_lake_connections_group_their_reads(tmp_path, monkeypatch):
    warehouse = _lake(tmp_path, monkeypatch)
    with warehouse.connect(read_only=True) as con:
        assert not isinstance(con, ReadGroups)
    with Warehouse(path=str(tmp_path / "file.duckdb")).connect() as con:
        assert not isinstance(con, ReadGroups)
    monkeypatch.setenv(read_groups.READ_GROUPS_VARIABLE, "0")
    with warehouse.connect() as con, warehouse.connect() as other:
        assert not isinstance(con, ReadGroups)
        assert not _in_the_same_group(con, other)  # each statement a transaction of its own


@pytest.mark.parametrize(("value", "enabled"), [("", True), ("1", True), ("0", False), ("false", False), (" No ", False)])
def test_read_groups_are_on_unless_switched_off(value, enabled):
    assert read_groups.read_groups_enabled({read_groups.READ_GROUPS_VARIABLE: value}) is enabled
    assert read_groups.read_groups_enabled({}) is True


@pytest.mark.parametrize(("value", "default", "on"), [
    ("", True, True), ("", False, False), ("junk", True, True), ("junk", False, False),
    ("0", True, False), (" FALSE ", True, False), ("no", True, False),
    ("1", False, True), ("True", False, True), (" yes", False, True), ("0", False, False), ("1", True, True),
])
def test_the_warehouse_switches_read_one_way(value, default, on):
    assert switches.switched_on("SWITCH", default, {"SWITCH": value}) is on
    assert switches.switched_on("SWITCH", default, {}) is default
