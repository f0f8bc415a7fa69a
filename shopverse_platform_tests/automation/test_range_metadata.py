"""A run over a range of partitions records the table's and statement's detail once, on the last
partition; every partition keeps its small entries; single-partition and unpartitioned runs keep
everything (defs/automation/range_metadata.py, through the lineage policy every asset runs in)."""

from __future__ import annotations

import dagster as dg

from shopverse_platform.defs.automation.range_metadata import DETAIL_ON_KEY, is_detail, split_detail
from shopverse_platform.defs.lineage.policy import with_openlineage
from shopverse_platform_tests.lineage import location

DAYS = dg.DailyPartitionsDefinition(start_date="2026-03-01")
SQL = "SELECT order_date, sum(net_amount) AS net FROM orders GROUP BY order_date -- " + "x" * 1_200
SCHEMA = dg.TableSchema(columns=[dg.TableColumn("order_date", "DATE"), dg.TableColumn("net", "DOUBLE")])


def _metadata() -> dict:
    return {"dagster/row_count": 3, "window": "2026-03-01..2026-03-03", "lineage/sql": dg.MetadataValue.md(SQL),
            "dagster/column_schema": SCHEMA, "note": "short text stays"}


@dg.asset(partitions_def=DAYS)
def ranged_sales() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=_metadata())


@dg.asset(deps=[ranged_sales])
def unpartitioned_summary() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=_metadata())


def _run(instance: dg.DagsterInstance, start: str, end: str) -> dg.ExecuteInProcessResult:
    instrumented = with_openlineage(dg.Definitions(assets=[ranged_sales, unpartitioned_summary],
                                                   resources={"warehouse": location.Warehouse()}))
    return dg.materialize(instrumented.assets, resources=instrumented.resources, instance=instance,
                          tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end})


def _by_partition(instance: dg.DagsterInstance, key: str) -> dict:
    records = instance.fetch_materializations(dg.AssetKey(key), limit=100).records
    return {r.asset_materialization.partition: r.asset_materialization.metadata for r in records}


def test_a_range_records_its_detail_on_the_last_partition_only():
    instance = dg.DagsterInstance.ephemeral()
    assert _run(instance, "2026-03-01", "2026-03-03").success
    by_day = _by_partition(instance, "ranged_sales")
    assert sorted(by_day) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    for day in ("2026-03-01", "2026-03-02"):
        assert set(by_day[day]) == {"dagster/row_count", "window", "note", DETAIL_ON_KEY}
        assert by_day[day][DETAIL_ON_KEY].value == "2026-03-03"
        assert by_day[day]["dagster/row_count"].value == 3
    last = by_day["2026-03-03"]
    assert last["lineage/sql"].value == SQL
    assert [c.name for c in last["dagster/column_schema"].schema.columns] == ["order_date", "net"]
    # the asset's latest materialization (what the UI's columns tab reads) is the one with everything
    latest = instance.get_latest_materialization_event(dg.AssetKey("ranged_sales")).asset_materialization
    assert latest.partition == "2026-03-03" and "dagster/column_schema" in latest.metadata
    # an unpartitioned asset in the same run keeps its whole metadata
    summary = _by_partition(instance, "unpartitioned_summary")[None]
    assert summary["lineage/sql"].value == SQL and DETAIL_ON_KEY not in summary


def test_a_single_partition_keeps_everything():
    instance = dg.DagsterInstance.ephemeral()
    assert _run(instance, "2026-03-02", "2026-03-02").success
    only = _by_partition(instance, "ranged_sales")["2026-03-02"]
    assert only["lineage/sql"].value == SQL and "dagster/column_schema" in only and DETAIL_ON_KEY not in only


def test_what_counts_as_detail():
    kept, detail = split_detail({**_metadata(), "lineage": dg.TableColumnLineage(deps_by_column={}),
                                 "long_plain": "y" * 1_001, "json": dg.MetadataValue.json({"k": "v"})})
    assert set(detail) == {"lineage/sql", "dagster/column_schema", "lineage", "long_plain"}
    assert set(kept) == {"dagster/row_count", "window", "note", "json"}
    assert not is_detail(12_345) and not is_detail("z" * 1_000)
