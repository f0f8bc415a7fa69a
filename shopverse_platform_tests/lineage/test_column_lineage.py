"""Column lineage from SQL: each expectation written by reading the query, not by running the code."""

from __future__ import annotations

import pytest

from shopverse_platform.lib.lineage import column_lineage as column_lineage_module
from shopverse_platform.lib.lineage.column_lineage import (
    ColumnLineageError,
    SourceColumn,
    column_lineage,
    statements,
)

SCHEMA = {
    "main.orders": ["order_id", "customer_id", "order_date", "amount", "status"],
    "main.customers": ["customer_id", "country", "signup_date"],
}


def lineage(sql: str):
    return column_lineage(sql, lambda table: SCHEMA.get(table))


def cols(result, column: str) -> set[tuple[str, str, str]]:
    return {(s.table, s.column, s.subtype) for s in result.columns[column]}


def test_identity_rename_transformation_and_aggregation():
    result = lineage(
        "SELECT order_date AS day, customer_id, amount * 1.2 AS gross, sum(amount) AS revenue, count(*) AS n "
        "FROM orders GROUP BY ALL"
    )
    assert cols(result, "day") == {("main.orders", "order_date", "IDENTITY")}
    assert cols(result, "customer_id") == {("main.orders", "customer_id", "IDENTITY")}
    assert cols(result, "gross") == {("main.orders", "amount", "TRANSFORMATION")}
    assert cols(result, "revenue") == {("main.orders", "amount", "AGGREGATION")}
    assert "n" not in result.columns  # count(*) reads no column


def test_join_with_aliases_and_indirect_columns():
    result = lineage(
        "SELECT c.country, count(DISTINCT o.customer_id) AS buyers FROM orders o "
        "JOIN customers c ON c.customer_id = o.customer_id WHERE o.status = 'paid' GROUP BY c.country"
    )
    assert cols(result, "country") == {("main.customers", "country", "IDENTITY")}
    assert cols(result, "buyers") == {("main.orders", "customer_id", "AGGREGATION")}
    assert set(result.indirect) == {
        SourceColumn("main.customers", "customer_id", "JOIN"),
        SourceColumn("main.orders", "customer_id", "JOIN"),
        SourceColumn("main.orders", "status", "FILTER"),
        SourceColumn("main.customers", "country", "GROUP_BY"),
    }


def test_unqualified_columns_resolve_through_the_schema():
    result = lineage("SELECT country, amount FROM orders JOIN customers USING (customer_id)")
    assert cols(result, "country") == {("main.customers", "country", "IDENTITY")}
    assert cols(result, "amount") == {("main.orders", "amount", "IDENTITY")}
    assert SourceColumn("main.orders", "customer_id", "JOIN") in result.indirect
    assert SourceColumn("main.customers", "customer_id", "JOIN") in result.indirect


def test_ctes_subqueries_and_the_strongest_transformation_wins():
    result = lineage(
        "WITH paid AS (SELECT customer_id, amount * 0.9 AS net FROM orders WHERE status = 'paid') "
        "SELECT t.customer_id, t.total FROM (SELECT customer_id, sum(net) AS total FROM paid GROUP BY 1) t"
    )
    assert cols(result, "customer_id") == {("main.orders", "customer_id", "IDENTITY")}
    assert cols(result, "total") == {("main.orders", "amount", "AGGREGATION")}


def test_star_union_and_lambda_parameters():
    star = lineage("SELECT * EXCLUDE (status) FROM orders")
    assert list(star.columns) == ["order_id", "customer_id", "order_date", "amount"]
    union = lineage("SELECT customer_id AS id FROM orders UNION ALL SELECT customer_id FROM customers")
    assert cols(union, "id") == {("main.orders", "customer_id", "IDENTITY"), ("main.customers", "customer_id", "IDENTITY")}
    lam = lineage("SELECT list_reduce(list(amount), (acc, x) -> acc + x) AS total FROM orders")
    assert cols(lam, "total") == {("main.orders", "amount", "AGGREGATION")}  # acc and x are no columns


def test_a_script_traces_through_its_temp_tables():
    result = lineage(
        "CREATE OR REPLACE TEMP TABLE _window AS SELECT customer_id, amount FROM orders WHERE order_date >= $start;\n"
        "DROP TABLE IF EXISTS scratch;\n"
        "CREATE OR REPLACE TABLE spend AS SELECT customer_id, sum(amount) AS spend FROM _window GROUP BY customer_id"
    )
    assert cols(result, "spend") == {("main.orders", "amount", "AGGREGATION")}
    assert SourceColumn("main.orders", "order_date", "FILTER") in result.indirect
    assert result.tables == {"main.orders"}


def test_a_recorded_run_binding_both_kinds_of_parameter_traces_its_commented_statements():
    # What a StatementLog records: a check bound by position, then SQL files (each opening with a
    # comment) bound by name. DuckDB 1.5 refused to split such a script in one go, and began each
    # statement's text with the comment before it, so the CREATE went unseen.
    script = (
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?;\n"
        "-- The paid orders of the window; a comment with a semicolon\n"
        "CREATE OR REPLACE TEMP TABLE _paid AS SELECT customer_id, amount FROM orders\n"
        "WHERE status = 'paid' AND order_date >= $start;\n"
        "/* the table; built from them */ CREATE OR REPLACE TABLE spend AS\n"
        "SELECT customer_id, sum(amount) AS spend FROM _paid GROUP BY customer_id"
    )
    result = column_lineage(script, lambda table: SCHEMA.get(table), target="spend")
    assert {name: cols(result, name) for name in result.columns} == {
        "customer_id": {("main.orders", "customer_id", "IDENTITY")},
        "spend": {("main.orders", "amount", "AGGREGATION")},
    }
    assert set(result.indirect) == {
        SourceColumn("main.orders", "status", "FILTER"),
        SourceColumn("main.orders", "order_date", "FILTER"),
        SourceColumn("main.orders", "customer_id", "GROUP_BY"),
    }


def test_statements_split_at_semicolons_outside_strings_names_and_comments():
    script = (
        "-- née; a comment before the first statement\n"
        "CREATE TEMP TABLE \"a;b\" AS SELECT 'ü;' AS x, $$y;z$$ AS y;\n"
        "/* ; */ INSERT INTO t BY NAME SELECT 1 AS n -- trailing; comment\n"
        ";; SELECT 3"
    )
    assert statements(script) == [
        ("a;b", "CREATE TEMP TABLE \"a;b\" AS SELECT 'ü;' AS x, $$y;z$$ AS y;"),
        (None, "INSERT INTO t BY NAME SELECT 1 AS n -- trailing; comment\n;"),
        (None, "SELECT 3"),
    ]


def test_unknown_and_ambiguous_columns_are_left_out_not_guessed():
    result = lineage("SELECT mystery, customer_id FROM orders, customers")
    assert result.columns == {}  # mystery: nobody has it; customer_id: both have it
    restricted = lineage("SELECT order_id FROM orders").restricted_to({"main.customers"})
    assert restricted.columns == {}


def test_the_real_daily_sales_sql_reads_only_the_order_facts():
    from shopverse_platform.lib.metrics import sales
    from shopverse_platform.lib.warehouse.sql import load_sql

    daily_sales_sql = load_sql(sales.__file__, "daily_sales")

    schema = {
        "main.orders": ["order_date", "order_ts", "customer_id", "is_order", "is_credit", "is_guest", "units",
                        "gross_amount", "credited_amount", "net_amount", "anonymous_id", "document_id", "country"],
        "main.order_lines": ["order_date", "product_id", "in_order", "is_product"],
    }
    result = column_lineage(daily_sales_sql, lambda table: schema.get(table))
    assert result.tables == {"main.orders", "main.order_lines"}
    assert cols(result, "gross_revenue") == {("main.orders", "gross_amount", "AGGREGATION")}
    assert cols(result, "unique_products") == {("main.order_lines", "product_id", "AGGREGATION")}


def test_unparsable_sql_raises_a_clear_error():
    with pytest.raises(ColumnLineageError):
        column_lineage("SELEC nonsense FROM")


def test_with_a_target_the_statement_writing_it_is_analysed_not_what_follows():
    script = (
        "CREATE TEMP TABLE _paid AS SELECT customer_id, amount FROM orders WHERE status = 'paid'; "
        "DELETE FROM revenue WHERE true; "
        "INSERT INTO revenue BY NAME SELECT customer_id, sum(amount) AS revenue FROM _paid GROUP BY ALL; "
        "SELECT count(*) AS n FROM revenue"
    )
    result = column_lineage(script, lambda table: SCHEMA.get(table), target="revenue")
    assert cols(result, "customer_id") == {("main.orders", "customer_id", "IDENTITY")}
    assert cols(result, "revenue") == {("main.orders", "amount", "AGGREGATION")}
    assert SourceColumn("main.orders", "status", "FILTER") in result.indirect
    assert column_lineage(script, lambda table: SCHEMA.get(table)).columns == {}  # no target: the count, no columns


def test_columns_selects_only_the_columns_it_names_and_keeps_their_names():
    # COLUMNS('re') keeps the columns whose name the expression finds (DuckDB: a partial match);
    # the columns it does not select are no output, f(COLUMNS(...)) transforms each one it does.
    result = lineage("SELECT COLUMNS('date'), CAST(COLUMNS('^(amount|status)$') AS VARCHAR), "
                     "max(COLUMNS('^customer_id$')) FROM orders")
    assert set(result.columns) == {"order_date", "amount", "status", "customer_id"}
    assert cols(result, "order_date") == {("main.orders", "order_date", "IDENTITY")}
    assert cols(result, "amount") == {("main.orders", "amount", "TRANSFORMATION")}
    assert cols(result, "customer_id") == {("main.orders", "customer_id", "AGGREGATION")}


def test_a_columns_lambda_over_a_bound_list_keeps_the_columns_the_built_table_has():
    # list_contains($features, c) is decided by the value bound at run time: the text cannot say
    # which columns it keeps, the table it built can (COLUMNS keeps the names). This is how the
    # training sets select their features (lib/ml/customer_features.sql).
    schema = {**SCHEMA, "main.features": ["customer_id", "amount", "order_date"]}
    sql = ("CREATE OR REPLACE TABLE features AS SELECT customer_id, CAST(COLUMNS(lambda c: list_contains($wanted, c)) "
           "AS DOUBLE) FROM (SELECT amount, * EXCLUDE (amount) FROM orders)")
    result = column_lineage(sql, schema.get, target="features")
    assert set(result.columns) == {"customer_id", "amount", "order_date"}
    assert cols(result, "amount") == {("main.orders", "amount", "TRANSFORMATION")}
    assert cols(result, "order_date") == {("main.orders", "order_date", "TRANSFORMATION")}
    # without the built table's schema nothing is guessed: only the named column
    assert set(column_lineage(sql, SCHEMA.get, target="features").columns) == {"customer_id"}


# One statement as DuckDB 1.5.5 and 2.0.0 serialise it (json_serialize_sql, captured in each version;
# query locations and empty or null keys left out). The two differ where the walk reads: the CTE's
# query (1.5 {"query": {"node": ...}}, 2.0 {"query_node": ...}) and string constants (1.5 a typed
# "value", 2.0 a "literal"), here the COLUMNS regular expression. The suite runs on one version;
# these pin the other's shape down too.
SHAPES_SQL = ("WITH paid AS (SELECT customer_id, amount FROM orders WHERE status = 'paid') "
              "SELECT COLUMNS('^cust'), sum(amount) AS total FROM paid GROUP BY 1")
SERIALIZED_BY_DUCKDB = {
    "1.5.5": '{"statements":[{"node":{"type":"SELECT_NODE","cte_map":{"map":[{"key":"paid","value":{"query":{"node":{"type":"SELECT_NODE","select_list":[{"class":"COLUMN_REF","type":"COLUMN_REF","column_names":["customer_id"]},{"class":"COLUMN_REF","type":"COLUMN_REF","column_names":["amount"]}],"from_table":{"type":"BASE_TABLE","table_name":"orders"},"where_clause":{"class":"COMPARISON","type":"COMPARE_EQUAL","left":{"class":"COLUMN_REF","type":"COLUMN_REF","column_names":["status"]},"right":{"class":"CONSTANT","type":"VALUE_CONSTANT","value":{"type":{"id":"VARCHAR"},"value":"paid"}}},"aggregate_handling":"STANDARD_HANDLING"}},"materialized":"CTE_MATERIALIZE_DEFAULT"}}]},"select_list":[{"class":"STAR","type":"STAR","columns":true,"expr":{"class":"CONSTANT","type":"VALUE_CONSTANT","value":{"type":{"id":"VARCHAR"},"value":"^cust"}}},{"class":"FUNCTION","type":"FUNCTION","alias":"total","function_name":"sum","children":[{"class":"COLUMN_REF","type":"COLUMN_REF","column_names":["amount"]}],"order_bys":{"type":"ORDER_MODIFIER"}}],"from_table":{"type":"BASE_TABLE","table_name":"paid"},"group_expressions":[{"class":"CONSTANT","type":"VALUE_CONSTANT","value":{"type":{"id":"INTEGER"},"value":1}}],"group_sets":[[0]],"aggregate_handling":"STANDARD_HANDLING"}}]}',  # noqa: E501
    "2.0.0": '{"statements":[{"node":{"type":"SELECT_NODE","cte_map":{"map":[{"key":"paid","value":{"materialized":"CTE_MATERIALIZE_DEFAULT","query_node":{"type":"SELECT_NODE","select_list":[{"class":"COLUMN_REF","type":"COLUMN_REF","column_names":["customer_id"]},{"class":"COLUMN_REF","type":"COLUMN_REF","column_names":["amount"]}],"from_table":{"type":"BASE_TABLE","table_name":"orders","qualified_name":{"path":["orders"]}},"where_clause":{"class":"COMPARISON","type":"COMPARE_EQUAL","left":{"class":"COLUMN_REF","type":"COLUMN_REF","column_names":["status"]},"right":{"class":"CONSTANT","type":"VALUE_CONSTANT","literal":{"kind":"STRING","text":"paid"}}},"aggregate_handling":"STANDARD_HANDLING"}}}]},"select_list":[{"class":"STAR","type":"STAR","columns":true,"expr":{"class":"CONSTANT","type":"VALUE_CONSTANT","literal":{"kind":"STRING","text":"^cust"}}},{"class":"FUNCTION","type":"FUNCTION","alias":"total","function_name":"sum","order_bys":{"type":"ORDER_MODIFIER"},"arguments":[{"expression":{"class":"COLUMN_REF","type":"COLUMN_REF","column_names":["amount"]}}],"qualified_name":{"path":["sum"]}}],"from_table":{"type":"BASE_TABLE","table_name":"paid","qualified_name":{"path":["paid"]}},"group_expressions":[{"class":"CONSTANT","type":"VALUE_CONSTANT","literal":{"kind":"INTEGER","text":"1"}}],"group_sets":[[0]],"aggregate_handling":"STANDARD_HANDLING"}}]}',  # noqa: E501
}


@pytest.mark.parametrize("version", sorted(SERIALIZED_BY_DUCKDB))
def test_the_parse_tree_of_duckdb_1_5_and_2_0_gives_the_same_lineage(version, monkeypatch):
    monkeypatch.setattr(column_lineage_module, "_serialized", lambda sql: SERIALIZED_BY_DUCKDB[version])
    result = lineage(SHAPES_SQL)
    # COLUMNS('^cust') over the CTE keeps customer_id only (amount does not match), copied from orders
    assert {name: cols(result, name) for name in result.columns} == {
        "customer_id": {("main.orders", "customer_id", "IDENTITY")},
        "total": {("main.orders", "amount", "AGGREGATION")},
    }
    assert result.indirect == [SourceColumn("main.orders", "status", "FILTER")]  # the CTE's WHERE


def test_the_duckdb_1_5_parse_tree_is_read_in_the_2_0_shape(monkeypatch):
    monkeypatch.setattr(column_lineage_module, "_serialized", lambda sql: SERIALIZED_BY_DUCKDB["1.5.5"])
    node = column_lineage_module.parse(SHAPES_SQL)
    cte = node["cte_map"]["map"][0]["value"]
    assert "query" not in cte
    assert cte["query_node"]["from_table"]["table_name"] == "orders"
    assert node["select_list"][0]["expr"]["literal"] == {"kind": "STRING", "text": "^cust"}
    assert cte["query_node"]["where_clause"]["right"]["literal"] == {"kind": "STRING", "text": "paid"}
    assert "literal" not in node["group_expressions"][0]  # only string constants are read, so only they are mapped
