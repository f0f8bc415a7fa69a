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
