"""The SQL-file loader: what may be spliced is closed, values are bound, every .sql file is used."""

from __future__ import annotations

import duckdb
import pytest

from shopverse_platform.lib.warehouse import sql
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql, table


def test_loads_binds_and_splices_only_tables_and_fragments(tmp_path):
    (tmp_path / "fragment.sql").write_text("n * $factor")
    (tmp_path / "query.sql").write_text("SELECT {{expr}} AS v FROM {{source}} WHERE n < $limit ORDER BY v")
    module = tmp_path / "module.py"
    query = load_sql(module, "query", expr=load_sql(module, "fragment"), source=table("_numbers"))
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE _numbers AS SELECT range AS n FROM range(5)")
    assert con.execute(query, {"factor": 10, "limit": 3}).fetchall() == [(0,), (10,), (20,)]


def test_rejects_what_could_carry_a_value(tmp_path):
    (tmp_path / "query.sql").write_text("SELECT * FROM {{source}}")
    module = tmp_path / "module.py"
    with pytest.raises(TypeError):
        load_sql(module, "query", source="clean_events; DROP TABLE orders")
    with pytest.raises(ValueError):
        table("clean_events; DROP TABLE orders")
    with pytest.raises(ValueError):
        table("not_a_table")
    with pytest.raises(ValueError):
        load_sql(module, "query")  # placeholder without a part
    with pytest.raises(ValueError):
        load_sql(module, "query", source=table("orders"), extra=SqlText("1"))  # part without a placeholder
    assert load_sql(module, "query", source=table("orders")) == "SELECT * FROM orders"
    assert sql.WAREHOUSE_TABLES >= {"clean_events", "orders", "quarantine"}


def test_a_partitioned_table_gains_the_columns_its_query_gained(tmp_path):
    """An upgrade that adds a column to a daily table (daily_sales.aov_orders) made the next run on
    an existing warehouse fail its INSERT BY NAME; the column is added, old days hold NULL."""
    from datetime import date

    from shopverse_platform.lib.warehouse.tables import replace_date_range

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE daily_sales AS SELECT DATE '2026-11-01' AS sales_date, 10.0 AS net_revenue")
    rows = replace_date_range(
        con, table="daily_sales", date_column="sales_date", start=date(2026, 11, 2), end=date(2026, 11, 3),
        select_sql="SELECT DATE '2026-11-02' AS sales_date, 12.0 AS net_revenue, 3 AS aov_orders, 'x' AS \"odd name\"")
    assert rows == 1
    assert con.execute("SELECT * FROM daily_sales ORDER BY sales_date").fetchall() == [
        (date(2026, 11, 1), 10.0, None, None), (date(2026, 11, 2), 12.0, 3, "x")]
