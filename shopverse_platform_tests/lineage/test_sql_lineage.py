"""sql_lineage_metadata: one call gives Dagster's column lineage and the OpenLineage columnLineage facet.

Expectations are read off the SQL by hand (the comments say from which line), not computed by the
code under test.
"""

import shutil

import dagster as dg
import duckdb

from shopverse_platform.defs.lineage.policy import with_openlineage
from shopverse_platform.defs.lineage.sql_lineage import sql_lineage_metadata
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib import paths
from shopverse_platform.lib.metrics import sales
from shopverse_platform_tests.lineage import location
from shopverse_platform_tests.lineage.support import by_job, read_events, validate_event
from shopverse_platform_tests.metrics import fixture as fx
from shopverse_platform_tests.metrics.conftest import built  # noqa: F401 - the metrics week's warehouse

# daily_sales, read from lib/metrics/sales.py. `docs` is `SELECT * FROM orders`, so d.x is orders.x;
# a count(*) FILTER (WHERE c) depends on c; a count(*) under a WHERE depends on nothing (the WHERE
# is dataset-wide INDIRECT lineage, which Dagster's column lineage has no place for).
DAILY_SALES_DEPS = {
    # sales_date comes from range($start, $end): no table column
    "orders": {("orders", "is_order")},  # count(*) FILTER (WHERE is_order)
    "items": {("orders", "units"), ("orders", "is_order")},  # sum(units) FILTER (WHERE is_order)
    "gross_revenue": {("orders", "gross_amount")},
    "cancellations": {("orders", "is_credit")},
    "cancelled_revenue": {("orders", "credited_amount")},
    "net_revenue": {("orders", "net_amount")},
    # net: aov_net_revenue / aov_orders, both from kept_amount = gross_amount - the same day's
    # credited_amount of order_lines (orders are picked by the WHERE is_order of `kept`: no column dep)
    "average_order_value": {("orders", "gross_amount"), ("order_lines", "credited_amount")},
    # CASE WHEN orders > 0 THEN gross_revenue / orders
    "gross_average_order_value": {("orders", "gross_amount"), ("orders", "is_order")},
    "gross_aov_orders": {("orders", "gross_amount"), ("orders", "is_order")},  # orders priced in the reporting currency
    "aov_orders": {("orders", "gross_amount"), ("order_lines", "credited_amount")},  # count(*) FILTER (WHERE kept_amount > 0)
    "aov_net_revenue": {("orders", "gross_amount"), ("order_lines", "credited_amount")},
    "unique_customers": {("orders", "customer_id"), ("orders", "is_order")},
    # count(DISTINCT coalesce(anonymous_id, document_id)) FILTER (WHERE is_order AND is_guest)
    "guest_customers": {("orders", "anonymous_id"), ("orders", "document_id"), ("orders", "is_order"),
                        ("orders", "is_guest")},
    "guest_orders": {("orders", "is_order"), ("orders", "is_guest")},
    "guest_revenue": {("orders", "gross_amount"), ("orders", "is_order"), ("orders", "is_guest")},
    # ... FILTER (WHERE is_order AND f.first_order_date = d.order_date); first_order_date = min(order_date)
    "new_customers": {("orders", "customer_id"), ("orders", "is_order"), ("orders", "order_date")},
    "returning_customers": {("orders", "customer_id"), ("orders", "is_order"), ("orders", "order_date")},
    "unique_products": {("order_lines", "product_id")},  # count(DISTINCT product_id) FROM order_lines
    # list({country, orders: count(*) FILTER (WHERE is_order), gross: sum(gross_amount), net: sum(net_amount)})
    "by_country": {("orders", "country"), ("orders", "is_order"), ("orders", "gross_amount"), ("orders", "net_amount")},
    # arg_max(hour, (net, -hour)) FILTER (WHERE net > 0): hour(order_ts), sum(greatest(kept_amount, 0))
    "peak_hour_by_revenue": {("orders", "order_ts"), ("orders", "gross_amount"), ("order_lines", "credited_amount")},
    "peak_hour_by_orders": {("orders", "order_ts")},  # arg_max(hour, (orders, -hour)), orders a count(*)
}


class RecordingConnection:
    """A DuckDB connection that keeps the text of every statement run through it."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements: list[str] = []

    def execute(self, sql, *args, **kwargs):
        self.statements.append(sql)
        return self.con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.con, name)


def _deps(lineage: dg.TableColumnLineage | dg.MetadataValue) -> dict[str, set[tuple[str, str]]]:
    if isinstance(lineage, dg.MetadataValue):  # as stored on the materialization
        lineage = lineage.value
    assert isinstance(lineage, dg.TableColumnLineage)
    return {
        column: {(dep.asset_key.to_user_string(), dep.column_name) for dep in deps}
        for column, deps in lineage.deps_by_column.items()
    }


def test_daily_sales_lineage_from_the_statements_that_really_build_it(built, tmp_path):  # noqa: F811
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built.warehouse.path, copy)  # the session's warehouse stays untouched
    con = duckdb.connect(str(copy))
    try:
        recording = RecordingConnection(con)
        sales.build_daily_sales(recording, fx.D1, fx.WEEK_END)
        # the whole script: the staging temp table, the DELETE/INSERT swap, the count, the DROP
        assert len(recording.statements) >= 4
        metadata = sql_lineage_metadata(con, "daily_sales", recording.statements)
        columns = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                             "WHERE table_name = 'daily_sales' ORDER BY ordinal_position").fetchall()]
    finally:
        con.close()
    lineage = metadata["dagster/column_lineage"]
    assert isinstance(lineage, dg.TableColumnLineage)
    assert _deps(lineage) == DAILY_SALES_DEPS
    assert set(columns) == set(DAILY_SALES_DEPS) | {"sales_date"}  # every column but the generated day
    assert list(lineage.deps_by_column) == [c for c in columns if c in DAILY_SALES_DEPS]  # in table order
    assert "FROM order_lines" in metadata["lineage/sql"].value


SCRIPT = [
    "CREATE OR REPLACE TEMP TABLE _big AS SELECT customer, amount, placed_at FROM lineage_orders WHERE amount > 5",
    "CREATE OR REPLACE TABLE lineage_big_spenders AS "
    "SELECT customer, sum(amount) AS spent, max(placed_at)::DATE AS last_day, count(*) AS orders FROM _big GROUP BY customer",
    "SELECT count(*) FROM lineage_big_spenders",  # a check after the build: not what builds the table
]


@dg.asset(deps=[location.lineage_orders], kinds={"duckdb", "sql"})
def lineage_big_spenders(warehouse: Warehouse) -> dg.MaterializeResult:
    """Customers with orders above 5, built through a temp table."""
    with warehouse.connect() as con:
        for statement in SCRIPT:
            con.execute(statement)
        return dg.MaterializeResult(metadata=sql_lineage_metadata(con, "lineage_big_spenders", SCRIPT))


def test_one_call_feeds_the_dagster_ui_and_the_openlineage_complete_event():
    platform = with_openlineage(dg.Definitions(assets=[location.lineage_orders, lineage_big_spenders],
                                               resources={"warehouse": Warehouse()}))
    result = dg.materialize(platform.assets, resources=platform.resources, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    materialization = result.asset_materializations_for_node("lineage_big_spenders")[0]
    # the temp table is traced through to lineage_orders; count(*) reads no column
    expected = {"customer": {("lineage_orders", "customer")}, "spent": {("lineage_orders", "amount")},
                "last_day": {("lineage_orders", "placed_at")}}
    assert _deps(materialization.metadata["dagster/column_lineage"]) == expected

    complete = by_job(read_events(paths.data_dir() / "lineage" / "events.ndjson"), "lineage_big_spenders", "COMPLETE")[0]
    validate_event(complete)
    assert complete["job"]["facets"]["sql"]["query"] == ";\n".join(SCRIPT)
    facet = complete["outputs"][0]["facets"]["columnLineage"]
    fields = {column: {(f["name"], f["field"], f["transformations"][0]["type"], f["transformations"][0]["subtype"])
                       for f in spec["inputFields"]} for column, spec in facet["fields"].items()}
    assert fields == {
        "customer": {("main.lineage_orders", "customer", "DIRECT", "IDENTITY")},
        "spent": {("main.lineage_orders", "amount", "DIRECT", "AGGREGATION")},
        "last_day": {("main.lineage_orders", "placed_at", "DIRECT", "AGGREGATION")},
    }
    indirect = {(f["name"], f["field"], f["transformations"][0]["subtype"]) for f in facet["dataset"]}
    assert indirect == {("main.lineage_orders", "amount", "FILTER"), ("main.lineage_orders", "customer", "GROUP_BY")}


def test_sql_the_parser_rejects_costs_the_column_lineage_not_the_run():
    con = duckdb.connect()
    try:
        metadata = sql_lineage_metadata(con, "t", "SELEC nonsense FROM")
    finally:
        con.close()
    assert "dagster/column_lineage" not in metadata
    assert metadata["lineage/column_lineage_error"].value.startswith("column lineage unavailable: ")
    assert metadata["lineage/sql"].value == "```sql\nSELEC nonsense FROM\n```"
