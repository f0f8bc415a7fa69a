"""lib/warehouse/tables.table_exists and table_schema, which bind a name as a relation instead of reading
the catalog's listings: the same answers as those listings, on a DuckDB file and on a DuckLake;
column_docs.comment_tables, several tables' comments from one listing; and rebuild_table, a whole
table replaced by a query's rows on either layout."""

from __future__ import annotations

import pytest

from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse.column_docs import column_docs, comment_tables
from shopverse_platform.lib.warehouse.tables import in_transaction, rebuild_table, table_exists, table_schema
from shopverse_platform_tests.conftest import column_comments, warehouse_setting

TYPED = """CREATE TABLE order_lines AS SELECT DATE '2026-03-02' AS order_date, 12.50::DECIMAL(18, 2) AS amount,
    [{'sku': 'A1', 'quantity': 2}] AS items, {'code': 'GBP', 'rate': 1.0::DOUBLE} AS currency, 'x' AS "odd name" """


@pytest.mark.parametrize("layout", ["file", "lake"])
def test_a_name_exists_when_a_query_would_reach_it_there(tmp_path, layout):
    other = tmp_path / "other.duckdb"
    with Warehouse(path=warehouse_setting(tmp_path, layout)).connect() as con:
        con.execute(TYPED)
        con.execute("CREATE TEMP TABLE _staged AS SELECT 1 AS x")
        con.execute(f"ATTACH '{other}' AS other")
        con.execute("CREATE TABLE other.main.daily_sales AS SELECT 1 AS x")  # another database: not the warehouse
        assert table_exists(con, "order_lines")
        assert table_exists(con, "_staged")
        assert not table_exists(con, "daily_sales")
        assert not table_exists(con, "orders; DROP TABLE order_lines")  # a name, never SQL
        assert table_exists(con, "order_lines")
        con.execute("DROP TABLE temp.main._staged")
        assert not table_exists(con, "_staged")


@pytest.mark.parametrize("layout", ["file", "lake"])
def test_a_tables_columns_and_types_are_those_the_catalog_lists(tmp_path, layout):
    with Warehouse(path=warehouse_setting(tmp_path, layout)).connect() as con:
        con.execute(TYPED)
        con.execute("CREATE TEMP TABLE _new_shape AS SELECT * EXCLUDE (items) FROM order_lines WHERE false")
        for name in ("order_lines", "_new_shape"):
            listed = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog IN "
                "(current_database(), 'temp') AND table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                [name]).fetchall()
            assert table_schema(con, name) == listed
        assert table_schema(con, "order_lines") == [
            ("order_date", "DATE"), ("amount", "DECIMAL(18,2)"), ("items", "STRUCT(sku VARCHAR, quantity INTEGER)[]"),
            ("currency", "STRUCT(code VARCHAR, rate DOUBLE)"), ("odd name", "VARCHAR")]


@pytest.mark.parametrize("layout", ["file", "lake"])
def test_a_steps_bookkeeping_tables_get_the_comments_they_lack_and_keep_the_right_ones(tmp_path, layout):
    docs = column_docs()
    with Warehouse(path=warehouse_setting(tmp_path, layout)).connect() as con:
        con.execute("CREATE TABLE session_hours (hour_ts TIMESTAMP, sessions BIGINT)")
        con.execute("CREATE TABLE busy_sessions (session_id VARCHAR, session_start TIMESTAMP, session_date DATE, events BIGINT)")
        con.execute("COMMENT ON COLUMN session_hours.sessions IS 'stale text'")
        con.execute(f"COMMENT ON COLUMN busy_sessions.events IS '{docs['busy_sessions']['events']}'")  # right already

        def comments() -> dict[tuple[str, str], str | None]:
            return column_comments(con, ("session_hours", "busy_sessions"))

        # sessions_sources is not built here: nothing to comment, no error
        written = comment_tables(con, ("session_hours", "busy_sessions", "sessions_sources"))
        assert written == 2 + 3  # session_hours' two columns, busy_sessions' three without the right text
        assert comments() == {(t, c): docs[t][c] for t, c in comments()}
        assert comment_tables(con, ("session_hours", "busy_sessions")) == 0  # all right now: nothing written


@pytest.mark.parametrize("layout", ["file", "lake"])
def test_a_rebuilt_table_holds_the_querys_rows_and_its_descriptions_in_any_shape(tmp_path, layout):
    """rebuild_table: created with its comments when absent; its rows replaced by the query's, the
    comments kept, when the query's columns and types are the table's; created anew (new column,
    new comments) when they are not. On a DuckLake the same-shape rebuild changes no schema (a
    delete and an insert: the next statement reloads nothing); on a DuckDB file the table is
    always created anew."""
    docs = column_docs()["sessions_sources"]
    rows_of = "SELECT * FROM (VALUES (DATE '2026-03-02', 10::BIGINT, 7::UBIGINT), (DATE '2026-03-03', ?, 8::UBIGINT)) v({})"
    columns = "partition_date, events, fingerprint"
    with Warehouse(path=warehouse_setting(tmp_path, layout)).connect() as con:
        def comments() -> dict[str, str | None]:
            return {column: comment for (_, column), comment in column_comments(con, ["sessions_sources"]).items()}

        def created_last() -> bool:
            if layout == "file":
                return True
            changes = con.execute("SELECT changes FROM ducklake_snapshots(current_database()) ORDER BY snapshot_id DESC "
                                  "LIMIT 1").fetchone()[0]
            return "tables_created" in changes

        assert in_transaction(con, lambda: rebuild_table(con, "sessions_sources", rows_of.format(columns), [3])) == 2
        assert created_last()
        assert comments() == {c: docs[c] for c in ("partition_date", "events", "fingerprint")}
        assert con.execute("SELECT events FROM sessions_sources ORDER BY ALL").fetchall() == [(3,), (10,)]

        assert in_transaction(con, lambda: rebuild_table(con, "sessions_sources", rows_of.format(columns), [4])) == 2
        assert created_last() == (layout == "file")  # the lake's rows replaced, its schema untouched
        assert comments() == {c: docs[c] for c in ("partition_date", "events", "fingerprint")}
        assert con.execute("SELECT events FROM sessions_sources ORDER BY ALL").fetchall() == [(4,), (10,)]

        # another type (a release changed the query): created anew in the query's shape
        wider = rows_of.replace("10::BIGINT", "10::DOUBLE")
        assert in_transaction(con, lambda: rebuild_table(con, "sessions_sources", wider.format(columns), [5])) == 2
        assert created_last()
        assert table_schema(con, "sessions_sources") == [("partition_date", "DATE"), ("events", "DOUBLE"),
                                                         ("fingerprint", "UBIGINT")]
        assert comments()["events"] == docs["events"]
        assert con.execute("SELECT events FROM sessions_sources ORDER BY ALL").fetchall() == [(5.0,), (10.0,)]
