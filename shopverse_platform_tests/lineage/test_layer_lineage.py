"""Every asset that builds a warehouse table from SQL hands the SQL it really ran to lineage:
ingestion (raw_orders), cleaning, segmentation and the training sets, as the metric assets do
(``test_metric_lineage.py``).

Built on the metrics week of ``metrics/conftest.py`` (its daily run materialized the ingestion and
cleaning assets); the segmentation assets and the training sets run once for this module on a copy
of its warehouse. Expected dependencies are read off the ``.sql`` files by hand (the comments say
which), never computed by the code under test.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import dagster as dg
import duckdb
import pytest

from shopverse_platform.defs.lineage.policy import with_openlineage
from shopverse_platform.defs.lineage.sql_lineage import StatementLog
from shopverse_platform.defs.ml.training_sets import churn_training_set, clv_training_set, propensity_training_set
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.defs.segmentation.assets import behaviour_clusters, intent_segments, rfm_segments, value_tiers
from shopverse_platform.defs.segmentation.snapshots import segment_movements, segment_snapshots
from shopverse_platform.lib import paths
from shopverse_platform_tests.lineage.support import read_events, validate_event
from shopverse_platform_tests.metrics import fixture as fx
from shopverse_platform_tests.metrics.conftest import built  # noqa: F401 - the metrics week

WEEK = str(fx.D1)  # the Monday of the metrics week: the weekly partition of the snapshots
# Cutoffs inside the week (2024-03-04..10), two-day label windows: small sets, but built by the same SQL.
CUTOFFS = {"training_cutoff": "2024-03-06", "validation_cutoff": "2024-03-08", "window_days": 2, "min_rows": 1}
TRAINING_SETS = ("churn_training_set", "clv_training_set", "propensity_training_set")
SEGMENTATION = [value_tiers, rfm_segments, behaviour_clusters, intent_segments]

# table -> column -> the upstream (table, column)s it is computed from, by hand from the .sql files
EXPECTED = {
    # cleaning/typed_orders.sql then clean_order_lines_rows.sql: raw text typed and classified
    "clean_order_lines": {
        "invoice_ts": {("raw_orders", "invoice_date")},  # coalesce(try_strptime(invoice_date, ...))
        "line_amount": {("raw_orders", "quantity"), ("raw_orders", "unit_price")},  # quantity * unit_price
        "is_guest": {("raw_orders", "customer_id")},
        # MAP(codes, kinds)[stock_code], 'gift_%' codes, NOT is_cancellation (invoice 'C...') AND quantity < 0
        "line_type": {("raw_orders", "stock_code"), ("raw_orders", "invoice_no"), ("raw_orders", "quantity")},
    },
    # cleaning/sessionised.sql and insert_clean_events.sql: every column comes from the landing lines
    # (an Arrow table, no warehouse table) except the platform session id, which a session continuing
    # from the day before takes from clean_events, else hashes from the device and first event.
    "clean_events": {
        "session_id": {("clean_events", "session_id"), ("clean_events", "anonymous_id"),
                       ("clean_events", "event_id"), ("clean_events", "event_ts")},
    },
    # cleaning/sessions.sql: one row per session, aggregated from clean_events
    "sessions": {
        "session_start": {("clean_events", "event_ts")},  # min(event_ts)
        "device": {("clean_events", "device"), ("clean_events", "event_ts")},  # arg_min(device, event_ts)
        "page_views": {("clean_events", "event_name")},  # count(*) FILTER (WHERE event_name = 'page_view')
        "purchase_value": {("clean_events", "value"), ("clean_events", "event_name")},
    },
    # cleaning/dim_customers.sql: ids from events (user_id) and exports (customer_id); the profiles
    # come from a CSV file, no table
    "dim_customers": {
        "customer_id": {("clean_events", "user_id"), ("clean_order_lines", "customer_id")},
        "first_seen": {("clean_events", "event_ts"), ("clean_order_lines", "invoice_ts")},
    },
    # cleaning/dim_products.sql: the exports' stock codes (the events' items are struct fields, not
    # columns, and the catalogue a CSV file: neither is a table column)
    "dim_products": {
        "product_id": {("clean_order_lines", "stock_code")},
        "list_price": {("clean_order_lines", "unit_price")},  # median(unit_price)
        "is_product": {("clean_order_lines", "line_type")},
    },
    # segmentation/rfm_segments.sql over customer_state.sql: monetary = the customer's sum(net_amount),
    # frequency = count(*) FILTER (WHERE is_order), recency from max(order_date) FILTER (WHERE is_order)
    "rfm_segments": {
        "customer_id": {("orders", "customer_id")},
        "monetary": {("orders", "net_amount")},
        "frequency": {("orders", "is_order")},
        "recency_days": {("orders", "order_date"), ("orders", "is_order")},
    },
    # segmentation/value_tiers.sql: the percentile ranks the customer's net revenue
    "value_tiers": {
        "net_revenue": {("orders", "net_amount")},
        "revenue_percentile": {("orders", "net_amount")},
    },
    # segmentation/intent_segments.sql over visitor_state.sql and human_events.sql
    "intent_segments": {
        "revenue_total": {("clean_events", "value")},  # sum(value) of the purchases
        # count(*) FILTER (WHERE is_recent AND event_name = 'view_item'), is_recent from event_date
        "recent_item_views": {("clean_events", "event_date"), ("clean_events", "event_name")},
        # coalesce(user_id, arg_max(user_id, event_ts) of the device, anonymous_id)
        "visitor_id": {("clean_events", "user_id"), ("clean_events", "anonymous_id"), ("clean_events", "event_ts")},
    },
    # the frame of defs/segmentation/assets.py: customer_state.sql's columns, visitor_state.sql's
    "behaviour_clusters": {
        "customer_id": {("orders", "customer_id")},
        "net_revenue": {("orders", "net_amount")},
        "recent_cart_adds": {("clean_events", "event_date"), ("clean_events", "event_name")},
    },
    # segmentation/segment_snapshots.sql: value tiers' net revenue, RFM's monetary, intent's revenue_total
    "segment_snapshots": {
        "value": {("orders", "net_amount"), ("clean_events", "value")},
        "entity_id": {("orders", "customer_id"), ("clean_events", "user_id"), ("clean_events", "anonymous_id"),
                      ("clean_events", "event_ts")},
    },
    # segmentation/segment_movements.sql: this week's snapshot is the stored one (segment_snapshots)
    "segment_movements": {
        "to_segment": {("segment_snapshots", "segment")},  # coalesce(c.segment, $left)
        "segmentation": {("segment_snapshots", "segmentation")},  # the previous week's is a constant
    },
    # ml/customer_features.sql (COLUMNS of customer_state.sql) and customer_labels.sql
    "churn_training_set": {
        "entity_id": {("orders", "customer_id")},
        "net_revenue": {("orders", "net_amount")},
        "recency_days": {("orders", "order_date"), ("orders", "is_order")},
        "label": {("orders", "is_order")},  # no order in the window: count(*) FILTER (WHERE is_order)
    },
    "clv_training_set": {
        "average_order_value": {("orders", "gross_amount"), ("orders", "is_order")},
        "label": {("orders", "net_amount")},  # the window's sum(net_amount)
    },
    # ml/visitor_features.sql (COLUMNS of visitor_state.sql)
    "propensity_training_set": {
        "recent_item_views": {("clean_events", "event_date"), ("clean_events", "event_name")},
        "revenue_total": {("clean_events", "value")},
    },
}
# Columns no SQL computes from a table column: left out of the lineage, never given a guess.
WITHOUT_LINEAGE = {
    "value_tiers": {"value_tier"},  # a name of the bound tier list, chosen by an ASOF JOIN on the percentile
    "behaviour_clusters": {"cluster", "cluster_label", "as_of_date"},  # KMeans' and Python's
    "churn_training_set": {"split", "cutoff_date"},  # bound values
}


@dataclass
class Layers:
    materializations: dict[str, list[dg.AssetMaterialization]]
    warehouse: Warehouse


def _materializations(*runs: dg.ExecuteInProcessResult) -> dict[str, list[dg.AssetMaterialization]]:
    found: dict[str, list[dg.AssetMaterialization]] = {}
    for run in runs:
        for event in run.get_asset_materialization_events():
            found.setdefault(event.materialization.asset_key.to_user_string(), []).append(event.materialization)
    return found


def _deps(materialization: dg.AssetMaterialization) -> dict[str, set[tuple[str, str]]]:
    lineage = materialization.metadata["dagster/column_lineage"]
    lineage = lineage.value if isinstance(lineage, dg.MetadataValue) else lineage
    assert isinstance(lineage, dg.TableColumnLineage)
    return {column: {(d.asset_key.to_user_string(), d.column_name) for d in deps}
            for column, deps in lineage.deps_by_column.items()}


@pytest.fixture(scope="module")
def layers(built, tmp_path_factory) -> Layers:  # noqa: F811
    root = tmp_path_factory.mktemp("layer_lineage")
    warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
    shutil.copy(built.warehouse.path, warehouse.path)  # the session's warehouse stays untouched
    resources = {"warehouse": warehouse}
    with pytest.MonkeyPatch.context() as env:  # module scope: isolate like the autouse fixture does
        env.setenv("SHOPVERSE_DATA_DIR", str(root / "data"))
        segmentation = dg.materialize(SEGMENTATION, resources=resources, instance=dg.DagsterInstance.ephemeral())
        weekly = dg.materialize([segment_snapshots, segment_movements], resources=resources, partition_key=WEEK,
                                instance=dg.DagsterInstance.ephemeral())
        training = dg.materialize(
            [churn_training_set, clv_training_set, propensity_training_set], resources=resources,
            run_config={"ops": {name: {"config": CUTOFFS} for name in TRAINING_SETS}},
            instance=dg.DagsterInstance.ephemeral())
    assert segmentation.success and weekly.success and training.success
    return Layers({**_materializations(built.daily_run), **_materializations(segmentation, weekly, training)}, warehouse)


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_column_dependencies_written_by_hand(layers, table):
    materializations = layers.materializations[table]
    assert materializations
    for materialization in materializations:  # every day of the week (or the one whole-history build)
        metadata = materialization.metadata
        assert "lineage/column_lineage_error" not in metadata, metadata.get("lineage/column_lineage_error")
        deps = _deps(materialization)
        assert {column: deps.get(column) for column in EXPECTED[table]} == EXPECTED[table]
        assert not WITHOUT_LINEAGE.get(table, set()) & set(deps)


@pytest.mark.parametrize("table", sorted(set(EXPECTED) - {"behaviour_clusters"}))
def test_the_sql_handed_over_is_the_statement_that_wrote_the_table(layers, table):
    for materialization in layers.materializations[table]:
        sql = materialization.metadata["lineage/sql"].value
        # the write itself (a swap from a staging table, or the window's insert), not a copy of the query
        assert f"CREATE OR REPLACE TABLE {table} AS" in sql or f"INSERT INTO {table} BY NAME" in sql, table


def test_raw_orders_hands_over_its_sql_but_reads_no_table(layers):
    """raw_orders is written by SQL from the export files (an Arrow table registered for the run):
    the SQL is there, no column has a warehouse table behind it, and that is no error."""
    for materialization in layers.materializations["raw_orders"]:
        metadata = materialization.metadata
        assert "INSERT INTO raw_orders BY NAME" in metadata["lineage/sql"].value
        assert "lineage/column_lineage_error" not in metadata
        assert _deps(materialization) == {}
    # raw_events is a registry written from Arrow, with no SQL to hand over
    assert all("lineage/sql" not in m.metadata for m in layers.materializations["raw_events"])


def test_behaviour_clusters_states_the_queries_of_its_frame_not_as_the_table_sql(layers):
    (materialization,) = layers.materializations["behaviour_clusters"]
    metadata = materialization.metadata
    # the lineage observer reads lineage/sql as the statement that built the table: these queries did not
    assert "lineage/sql" not in metadata
    frame_sql = metadata["lineage/frame_sql"].value
    assert "WHERE orders > 0 ORDER BY customer_id" in frame_sql  # the customers' query of _customer_frame
    assert "visitor_id AS customer_id" in frame_sql  # the visits' query
    assert set(_deps(materialization)) == {
        "customer_id", "recency_days", "orders", "net_revenue", "average_order_value", "units_per_order",
        "products_per_order", "cancellation_rate", "days_between_orders",
        "recent_sessions", "recent_item_views", "recent_cart_adds",
    }


def test_a_loop_of_the_same_texts_is_stated_once():
    con = duckdb.connect()
    log = StatementLog(con)
    log.execute("CREATE TEMP TABLE _x AS SELECT 1 AS a")
    for day in (1, 2, 3):  # the same text every round, the value bound
        log.execute("INSERT INTO _x SELECT $a", {"a": day})
    log.execute("SELECT count(*) FROM _x").fetchall()
    assert log.take(distinct=True) == [
        "CREATE TEMP TABLE _x AS SELECT 1 AS a", "INSERT INTO _x SELECT $a", "SELECT count(*) FROM _x"]
    assert log.take() == []
    assert con.execute("SELECT sum(a) FROM _x").fetchone()[0] == 1 + 1 + 2 + 3  # every round ran


def test_the_complete_events_carry_the_column_lineage(layers, tmp_path):
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(layers.warehouse.path, copy)
    resources = {"warehouse": Warehouse(path=str(copy))}
    defs = with_openlineage(dg.Definitions(assets=[rfm_segments, behaviour_clusters, churn_training_set],
                                           resources=resources))
    assert dg.materialize(defs.assets, resources=defs.resources, instance=dg.DagsterInstance.ephemeral(),
                          run_config={"ops": {"churn_training_set": {"config": CUTOFFS}}}).success

    facets: dict[str, dict] = {}
    completed: set[str] = set()
    for event in read_events(paths.data_dir() / "lineage" / "events.ndjson"):
        if event["eventType"] != "COMPLETE":
            continue
        validate_event(event)
        for output in event.get("outputs", []):
            completed.add(output["name"])
            if "columnLineage" in output.get("facets", {}):
                facets[output["name"]] = output["facets"]["columnLineage"]
    for table in ("rfm_segments", "churn_training_set"):
        for column, expected in EXPECTED[table].items():
            fields = {(f["name"], f["field"]) for f in facets[f"main.{table}"]["fields"][column]["inputFields"]}
            assert fields == {(f"main.{t}", c) for t, c in expected}, (table, column)
    # the clusters' frame queries are not read as the SQL that wrote the table: no facet from them
    assert "main.behaviour_clusters" in completed and "main.behaviour_clusters" not in facets
