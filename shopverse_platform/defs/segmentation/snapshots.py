"""Weekly segment snapshots and week-over-week segment movements."""


import dagster as dg
from pydantic import Field

from shopverse_platform.defs.asset_helpers import table_metadata, window_dates
from shopverse_platform.defs.partitions import weekly_partitions
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.defs.segmentation.common import GROUP, OWNERS, result, spec
from shopverse_platform.lib.segmentation import checks, movements

WINDOW = "week_start >= ? AND week_start < ?"


class SnapshotConfig(dg.Config):
    order_source: str | None = Field(default=None, description="Only orders of this source ('events' or 'order_export'). Unset: all.")
    lookback_days: int = Field(default=28, description="Intent segments: a recent visitor was seen in this many days up to Sunday.")


WEEKLY_ARGS = {
    "partitions_def": weekly_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "metadata": {"partition_expr": "week_start"},
    "kinds": {"duckdb", "sql"},
    "owners": OWNERS,
    "group_name": GROUP,
    "automation_condition": dg.AutomationCondition.eager(),
}


@dg.asset(
    **WEEKLY_ARGS,
    deps=["orders", "clean_events"],
    check_specs=[spec("segment_snapshots", "entity_unique", "One row per week, segmentation and customer or visitor.")],
)
def segment_snapshots(context: dg.AssetExecutionContext, config: SnapshotConfig, warehouse: Warehouse):
    """The week's segments as of its Sunday (UTC): every customer's value tier and RFM segment,
    every recent visitor's intent segment, with their value (net revenue to date; visitors:
    purchase revenue to date). Computed from the date-stamped facts as of that day, so a week
    rebuilt later gives the same snapshot; the current tables are the same code as of today."""
    start, end = window_dates(context)
    with warehouse.connect() as con:
        movements.write_snapshots(con, start, end, config.order_source, config.lookback_days)
        counts = con.execute(
            f"SELECT segmentation, count(*) FROM segment_snapshots WHERE {WINDOW} GROUP BY 1", [start, end]).fetchall()
        yield dg.MaterializeResult(metadata={**table_metadata(con, "segment_snapshots", WINDOW, [start, end]),
                                             "rows_by_segmentation": dg.MetadataValue.json(dict(counts))})
        yield result("segment_snapshots", "entity_unique",
                     checks.unique_key(con, "segment_snapshots", "week_start, segmentation, entity_id"))


@dg.asset(
    **WEEKLY_ARGS,
    deps=[dg.AssetDep("segment_snapshots", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))],
    check_specs=[spec("segment_movements", "conserve_entities",
                      "Per week and segmentation, the movements' destinations count exactly the week's snapshot.")],
)
def segment_movements(context: dg.AssetExecutionContext, config: SnapshotConfig, warehouse: Warehouse):
    """Week-over-week movement between segments (value tier, RFM segment, intent segment): one row
    per week, segmentation and (from, to) pair, with how many customers or visitors made that move,
    who they are (`entity_ids`), their value and its change over the week. `(new)` = not in the
    segmentation the week before, `(left)` = no longer in it; `moved` is false for those who stayed.
    The previous week's stored snapshot is used; if it was never built it is computed the same way."""
    start, end = window_dates(context)
    with warehouse.connect() as con:
        movements.write_movements(con, start, end, config.order_source, config.lookback_days)
        moved = con.execute(
            f"SELECT segmentation, sum(entities) FROM segment_movements WHERE {WINDOW} AND moved GROUP BY 1", [start, end]).fetchall()
        yield dg.MaterializeResult(metadata={**table_metadata(con, "segment_movements", WINDOW, [start, end]),
                                             "moved_by_segmentation": dg.MetadataValue.json({k: int(v) for k, v in moved})})
        yield result("segment_movements", "conserve_entities",
                     checks.movements_conserve_entities(con, movements.weeks_in(start, end)))
