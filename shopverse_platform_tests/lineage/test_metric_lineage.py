"""Every metric asset hands the SQL it really ran to lineage: Dagster's column lineage on each
materialization of the metrics week, and the columnLineage facet of the OpenLineage COMPLETE event.

Expected dependencies are read off the ``.sql`` files by hand (the comments say from which line),
never computed by the code under test. ``daily_sales`` is checked column by column in
``test_sql_lineage.py``; here a few columns of each table, through the assets themselves.
"""

import shutil

import dagster as dg
import pytest

from shopverse_platform.defs.lineage.policy import with_openlineage
from shopverse_platform.defs.metrics.customers_seasonality import customer_metrics, seasonality
from shopverse_platform.defs.metrics.facts import order_lines, orders
from shopverse_platform.defs.metrics.sales import daily_sales
from shopverse_platform.defs.metrics.session_metrics import session_metrics
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib import paths
from shopverse_platform_tests.lineage.support import read_events, validate_event
from shopverse_platform_tests.metrics import fixture as fx
from shopverse_platform_tests.metrics.conftest import METRIC_TABLES, built  # noqa: F401 - the metrics week

# table -> column -> the upstream (table, column)s it is computed from, by hand from lib/metrics/*.sql
EXPECTED = {
    # order_lines.sql: event lines take their day and time from the purchase/refund event, export lines
    # from the invoice (UNION ALL BY NAME); export amounts are quantity x unit_price as cleaned.
    "order_lines": {
        "order_date": {("clean_events", "event_date"), ("clean_order_lines", "invoice_date")},
        "order_ts": {("clean_events", "event_ts"), ("clean_order_lines", "invoice_ts")},
        "customer_id": {("clean_events", "user_id"), ("clean_order_lines", "customer_id")},
        "country": {("clean_events", "country"), ("clean_order_lines", "country")},
        "anonymous_id": {("clean_events", "anonymous_id")},  # NULL on export lines
        "line_type": {("clean_order_lines", "line_type")},  # 'product' on event lines
        # a purchase's document is its transaction id, a refund's its event id, an invoice its number
        "document_id": {("clean_events", "transaction_id"), ("clean_events", "event_id"), ("clean_order_lines", "invoice_no")},
    },
    # orders.sql: one row per document, aggregated from its lines; only is_sales lines make amounts.
    "orders": {
        "order_date": {("order_lines", "order_date")},
        "document_id": {("order_lines", "document_id")},
        "gross_amount": {("order_lines", "gross_amount"), ("order_lines", "is_sales")},
        "net_amount": {("order_lines", "net_amount"), ("order_lines", "is_sales")},
        "units": {("order_lines", "quantity"), ("order_lines", "is_product")},  # sum(quantity) FILTER (WHERE is_product)
        "is_order": {("order_lines", "in_order")},
    },
    # daily_sales.sql: sums of the documents' amounts; unique_products from the lines' products.
    "daily_sales": {
        "net_revenue": {("orders", "net_amount")},
        "gross_revenue": {("orders", "gross_amount")},
        "cancelled_revenue": {("orders", "credited_amount")},
        "orders": {("orders", "is_order")},
        "unique_products": {("order_lines", "product_id")},
    },
    # funnel_daily.sql: count(p.session_id) FILTER (reached >= step); reached is a list of step
    # positions of event_name ordered by event_ts; sessions come from _window_sessions (clean_events).
    "funnel_daily": {
        "sessions": {("clean_events", "event_name"), ("clean_events", "event_ts"), ("clean_events", "session_id")},
        "conversion_from_start": {("clean_events", "event_name"), ("clean_events", "event_ts"),
                                  ("clean_events", "session_id")},
    },
    # daily_traffic.sql: visitors = count(DISTINCT visitor_id), visitor_id = arg_min(anonymous_id, event_ts)
    "daily_traffic": {
        "visitors": {("clean_events", "anonymous_id"), ("clean_events", "event_ts")},
        "page_views": {("clean_events", "event_name"), ("clean_events", "session_id")},
    },
    # seasonality.sql: facts = events (constants for the order columns) UNION ALL the sales, by position;
    # orders = sum(CASE WHEN is_order THEN 1 ELSE 0 END), revenue = sums of the order amounts
    "seasonality": {
        "orders": {("orders", "is_order")},
        "gross_revenue": {("orders", "gross_amount")},
        "net_revenue": {("orders", "net_amount")},
    },
    # product_performance.sql: counts, session products and sales UNION ALL BY NAME; the money from
    # the order fact's product lines
    "product_performance": {
        "product_id": {("order_lines", "product_id")},
        "gross_revenue": {("order_lines", "gross_amount")},
        "refunds": {("order_lines", "credited_amount")},
        "net_revenue": {("order_lines", "net_amount")},
    },
    # customer_metrics.sql: per-customer sums over orders, profile columns from dim_customers.
    "customer_metrics": {
        "customer_id": {("orders", "customer_id")},
        "net_revenue": {("orders", "net_amount")},
        "historical_ltv": {("orders", "net_amount")},
        "average_order_value": {("orders", "gross_amount"), ("orders", "is_order")},
        "age_group": {("dim_customers", "age_group")},
        "signup_date": {("dim_customers", "signup_date")},
    },
}
# Transformation types of a few of those columns in the OpenLineage facet (DIRECT/<subtype>).
SUBTYPES = {
    ("daily_sales", "net_revenue"): {("main.orders", "net_amount", "AGGREGATION")},
    ("orders", "document_id"): {("main.order_lines", "document_id", "IDENTITY")},
    ("customer_metrics", "age_group"): {("main.dim_customers", "age_group", "IDENTITY")},
    ("order_lines", "line_type"): {("main.clean_order_lines", "line_type", "IDENTITY")},
}


def _deps(lineage) -> dict[str, set[tuple[str, str]]]:
    lineage = lineage.value if isinstance(lineage, dg.MetadataValue) else lineage
    assert isinstance(lineage, dg.TableColumnLineage)
    return {column: {(d.asset_key.to_user_string(), d.column_name) for d in deps}
            for column, deps in lineage.deps_by_column.items()}


def _materializations(built) -> dict[str, list[dg.AssetMaterialization]]:  # noqa: F811
    found: dict[str, list[dg.AssetMaterialization]] = {}
    for run in (built.daily_run, built.weekly_run):
        for event in run.get_asset_materialization_events():
            found.setdefault(event.materialization.asset_key.to_user_string(), []).append(event.materialization)
    return found


def test_every_metric_table_carries_the_sql_that_built_it_and_its_column_lineage(built):  # noqa: F811
    materializations = _materializations(built)
    assert set(METRIC_TABLES) <= set(materializations)
    for table in METRIC_TABLES:
        for materialization in materializations[table]:
            metadata = materialization.metadata
            assert "lineage/column_lineage_error" not in metadata, (table, metadata.get("lineage/column_lineage_error"))
            assert isinstance(metadata["dagster/column_lineage"].value, dg.TableColumnLineage), table
            # the statement that wrote the table is in the SQL handed over, not a copy of the query alone
            assert f"INSERT INTO {table} BY NAME" in metadata["lineage/sql"].value or \
                f"CREATE OR REPLACE TABLE {table} AS" in metadata["lineage/sql"].value, table


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_column_dependencies_written_by_hand(built, table):  # noqa: F811
    materializations = _materializations(built)[table]
    assert materializations
    for materialization in materializations:  # every day of the week (or the one whole-history build)
        deps = _deps(materialization.metadata["dagster/column_lineage"])
        assert {column: deps.get(column) for column in EXPECTED[table]} == EXPECTED[table]


def test_the_complete_events_carry_the_column_lineage(built, tmp_path):  # noqa: F811
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built.warehouse.path, copy)  # the session's warehouse stays untouched
    resources = {"warehouse": Warehouse(path=str(copy))}
    daily = with_openlineage(dg.Definitions(assets=[order_lines, orders, daily_sales, session_metrics], resources=resources))
    assert dg.materialize(daily.assets, resources=daily.resources, partition_key=str(fx.D1),
                          instance=dg.DagsterInstance.ephemeral()).success
    whole = with_openlineage(dg.Definitions(assets=[customer_metrics, seasonality], resources=resources))
    assert dg.materialize(whole.assets, resources=whole.resources, instance=dg.DagsterInstance.ephemeral()).success

    facets: dict[str, dict] = {}
    for event in read_events(paths.data_dir() / "lineage" / "events.ndjson"):
        if event["eventType"] != "COMPLETE":
            continue
        validate_event(event)
        for output in event.get("outputs", []):
            if "columnLineage" in output.get("facets", {}):
                facets[output["name"]] = output["facets"]["columnLineage"]
    for table, columns in EXPECTED.items():
        facet = facets[f"main.{table}"]
        for column, expected in columns.items():
            fields = {(f["name"], f["field"]) for f in facet["fields"][column]["inputFields"]}
            assert fields == {(f"main.{t}", c) for t, c in expected}, (table, column)
    for (table, column), expected in SUBTYPES.items():
        fields = facets[f"main.{table}"]["fields"][column]["inputFields"]
        assert {(f["name"], f["field"], f["transformations"][0]["type"], f["transformations"][0]["subtype"])
                for f in fields} == {(name, field, "DIRECT", subtype) for name, field, subtype in expected}
