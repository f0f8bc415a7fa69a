"""The standard metadata of a written table (defs/asset_helpers.table_metadata): the run's window's
row count and the table's total, and the column comments of the table and of those written beside
it, on a DuckDB file and on a DuckLake."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.asset_shapes import window
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse.column_docs import column_docs
from shopverse_platform_tests.conftest import warehouse_setting

FIRST = date(2026, 3, 2)
ROWS_PER_DAY = [3, 1, 4]  # three days, a different count on each


@pytest.mark.parametrize("layout", ["file", "lake"])
def test_the_window_count_and_the_total_are_those_of_the_table(tmp_path, layout):
    with Warehouse(path=warehouse_setting(tmp_path, layout)).connect() as con:
        con.execute("CREATE TABLE daily_sales (sales_date DATE, orders BIGINT)")
        for offset, count in enumerate(ROWS_PER_DAY):
            con.execute("INSERT INTO daily_sales SELECT ?, range FROM range(?)", [FIRST + timedelta(days=offset), count])
        for offset, count in enumerate(ROWS_PER_DAY):
            day = FIRST + timedelta(days=offset)
            params = {"start": day, "end": day + timedelta(days=1)}
            metadata = table_metadata(con, "daily_sales", window("sales_date"), params)
            assert metadata["dagster/row_count"].value == count
            assert metadata["total_rows"].value == sum(ROWS_PER_DAY)
        two_days = table_metadata(con, "daily_sales", window("sales_date"),
                                  {"start": FIRST + timedelta(days=1), "end": FIRST + timedelta(days=3)})
        assert two_days["dagster/row_count"].value == ROWS_PER_DAY[1] + ROWS_PER_DAY[2]
        whole = table_metadata(con, "daily_sales")
        assert whole["dagster/row_count"].value == whole["total_rows"].value == sum(ROWS_PER_DAY)
        assert [column.name for column in whole["dagster/column_schema"].columns] == ["sales_date", "orders"]


@pytest.mark.parametrize("layout", ["file", "lake"])
def test_the_table_and_the_tables_beside_it_get_their_column_comments(tmp_path, layout):
    docs = column_docs()
    with Warehouse(path=warehouse_setting(tmp_path, layout)).connect() as con:
        con.execute("CREATE TABLE daily_sales (sales_date DATE, orders BIGINT)")
        con.execute("CREATE TABLE session_hours (hour_ts TIMESTAMP, sessions BIGINT)")
        metadata = table_metadata(con, "daily_sales", beside=("session_hours", "busy_sessions"))  # the last not built
        listed = con.execute("SELECT table_name, column_name, comment FROM duckdb_columns() "
                             "WHERE database_name = current_database() ORDER BY table_name, column_index").fetchall()
        assert listed == [(t, c, docs[t][c]) for t, c in [("daily_sales", "sales_date"), ("daily_sales", "orders"),
                                                           ("session_hours", "hour_ts"), ("session_hours", "sessions")]]
        assert [(c.name, c.type, c.description) for c in metadata["dagster/column_schema"].columns] == [
            ("sales_date", "DATE", docs["daily_sales"]["sales_date"]), ("orders", "BIGINT", docs["daily_sales"]["orders"])]
