"""Column documentation: one source (lib/warehouse/columns.toml), complete, in Dagster and in OpenLineage.

The tables are the ones the metric and segmentation fixtures build through Dagster, so the columns
checked are the columns the code really produces, not a copy of them.
"""

import re
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from shopverse_platform.defs.lineage.policy import with_openlineage
from shopverse_platform.defs.metrics.sales import daily_sales
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.defs.segmentation.snapshots import segment_movements, segment_snapshots
from shopverse_platform.lib import paths
from shopverse_platform.lib.reports import data as report_data
from shopverse_platform.lib.warehouse.column_docs import column_docs
from shopverse_platform.lib.warehouse.sql import WAREHOUSE_TABLES
from shopverse_platform_tests.lineage.support import by_job, read_events, validate_event
from shopverse_platform_tests.metrics import fixture as fx
from shopverse_platform_tests.metrics.conftest import built  # noqa: F401 - the metrics week's warehouse
from shopverse_platform_tests.segmentation.conftest import hand_orders  # noqa: F401 - the segments' warehouse

CLEAN_TABLES = {"clean_events", "clean_order_lines", "quarantine", "sessions", "dim_customers", "dim_products"}
FACT_AND_METRIC_TABLES = {"orders", "order_lines", "daily_sales", "funnel_daily"}
# What lib/reports reads today (test_the_tables_the_reports_read_are_all_required keeps this honest).
REPORT_TABLES = {"daily_sales", "daily_traffic", "funnel_daily", "cart_abandonment", "product_performance",
                 "anomalies", "segment_snapshots", "segment_movements",
                 "orders",  # when a day's data ends, for like-for-like comparisons
                 "input_quality",
                 "order_lines"}  # its reporting_currency: the currency every amount of a report is in
REQUIRED = CLEAN_TABLES | FACT_AND_METRIC_TABLES | REPORT_TABLES


def _columns(warehouse: Warehouse) -> dict[str, list[str]]:
    con = duckdb.connect(warehouse.path, read_only=True)
    try:
        rows = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    finally:
        con.close()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


@pytest.fixture(scope="module")
def built_columns(built, hand_orders) -> dict[str, list[str]]:  # noqa: F811
    weeks = {"dagster/asset_partition_range_start": "2011-03-21", "dagster/asset_partition_range_end": "2011-03-28"}
    assert hand_orders.materialize([segment_snapshots, segment_movements], tags=weeks).success
    segments = _columns(hand_orders.warehouse)
    return {**_columns(built.warehouse), **{t: segments[t] for t in ("segment_snapshots", "segment_movements")}}


def test_the_tables_the_reports_read_are_all_required():
    folder = Path(report_data.__file__).parent
    text = "\n".join(p.read_text() for p in sorted(folder.glob("*.py")) + sorted(folder.glob("*.sql")))
    read = {name for name in re.findall(r"\b(?:FROM|JOIN)\s+([a-z_]+)", text) if name in WAREHOUSE_TABLES}
    assert read == REPORT_TABLES


def test_every_column_of_the_required_tables_is_documented_and_nothing_else(built_columns):
    docs = column_docs()
    assert REQUIRED <= set(built_columns), "a fixture no longer builds a required table"
    for table in sorted(REQUIRED):
        undocumented = [c for c in built_columns[table] if not (docs.get(table, {}).get(c) or "").strip()]
        assert undocumented == [], f"{table}: columns without a description in lib/warehouse/columns.toml"
    for table in sorted(REQUIRED):
        stale = sorted(set(docs.get(table, {})) - set(built_columns[table]))
        assert stale == [], f"{table}: documented columns the table no longer has"
    # every other documented table (all of them are now) is checked against the table as built in
    # test_every_column_documented.py, which builds the segment and model tables too


def test_the_descriptions_reach_the_dagster_column_schema(built):  # noqa: F811
    docs = column_docs()
    checked = 0
    for materialization in built.daily_run.get_asset_materialization_events():
        materialization = materialization.materialization
        table = materialization.asset_key.to_user_string()
        schema = materialization.metadata.get("dagster/column_schema")
        if table not in docs or schema is None:
            continue
        columns = schema.value.columns
        assert [(c.name, c.description) for c in columns] == [(c.name, docs[table][c.name]) for c in columns], table
        checked += 1
    assert checked >= 8  # the clean tables, the facts and daily_sales at least, per day of the week


def test_the_descriptions_reach_the_openlineage_schema_facet(built, tmp_path):  # noqa: F811
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built.warehouse.path, copy)
    platform = with_openlineage(dg.Definitions(assets=[daily_sales], resources={"warehouse": Warehouse(path=str(copy))}))
    result = dg.materialize(platform.assets, resources=platform.resources, partition_key=str(fx.D1),
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    [complete] = by_job(read_events(paths.data_dir() / "lineage" / "events.ndjson"), "daily_sales", "COMPLETE")
    validate_event(complete)
    fields = complete["outputs"][0]["facets"]["schema"]["fields"]
    expected = column_docs()["daily_sales"]
    assert [(f["name"], f["description"]) for f in fields] == list(expected.items())  # every column, in order
