"""Weekly segment snapshots and week-over-week segment movements."""


import dagster as dg
from pydantic import Field

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.asset_shapes import window, window_params
from shopverse_platform.defs.checks import Check, table_checks
from shopverse_platform.defs.lineage.sql_lineage import StatementLog, sql_lineage_metadata
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.defs.segmentation.common import SEGMENTATION
from shopverse_platform.lib.segmentation import checks, movements
from shopverse_platform.lib.cleaning.dimensions import update_visitor_observations

WINDOW = window("week_start")


class SnapshotConfig(dg.Config):
    order_source: str | None = Field(default=None, description="Only orders of this source ('events' or 'order_export'). Unset: all.")
    lookback_days: int = Field(default=28, description="Intent segments: a recent visitor was seen in this many days up to Sunday.")


# The run's weeks: evaluated by the asset on its window.
CONSERVE_ENTITIES = Check("segment_movements", "conserve_entities",
                          "Per week and segmentation, the movements' destinations count exactly the week's snapshot.")


@dg.asset(**SEGMENTATION.weekly("week_start", ["orders", "clean_events"], eager=True))
def segment_snapshots(context: dg.AssetExecutionContext, config: SnapshotConfig, warehouse: Warehouse):
    """The week's segments as of its Sunday (UTC): every customer's value tier and RFM segment,
    every recent visitor's intent segment, with their value (net revenue to date; visitors:
    purchase revenue to date). Computed from the date-stamped facts as of that day, so a week
    rebuilt later gives the same snapshot; the current tables are the same code as of today."""
    params = window_params(context)
    with warehouse.connect() as con:
        observed = update_visitor_observations(con)  # the visitor observations the intent segments are read from
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        movements.write_snapshots(log, params["start"], params["end"], config.order_source, config.lookback_days)
        counts = con.execute(
            f"SELECT segmentation, count(*) FROM segment_snapshots WHERE {WINDOW} GROUP BY 1", params).fetchall()
        yield dg.MaterializeResult(metadata={**table_metadata(con, "segment_snapshots", WINDOW, params),
                                             "rows_by_segmentation": dg.MetadataValue.json(dict(counts)),
                                             # every week runs the same texts: stated once
                                             **sql_lineage_metadata(con, "segment_snapshots",
                                                                    [*observed.sql, *log.take(distinct=True)])})


segment_snapshots_checks = table_checks("segment_snapshots", [
    (Check("segment_snapshots", "entity_unique", "One row per week, segmentation and customer or visitor."),
     lambda con: checks.unique_key(con, "segment_snapshots", "week_start, segmentation, entity_id")),
])


@dg.asset(
    **SEGMENTATION.weekly(
        "week_start",
        [dg.AssetDep("segment_snapshots", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))],
        eager=True,
    ),
    check_specs=[CONSERVE_ENTITIES.spec()],
)
def segment_movements(context: dg.AssetExecutionContext, config: SnapshotConfig, warehouse: Warehouse):
    """Week-over-week movement between segments (value tier, RFM segment, intent segment): one row
    per week, segmentation and (from, to) pair, with how many customers or visitors made that move,
    who they are (`entity_ids`), their value and its change over the week. `(new)` = not in the
    segmentation the week before, `(left)` = no longer in it; `moved` is false for those who stayed.
    The previous week's stored snapshot is used; if it was never built it is computed the same way."""
    params = window_params(context)
    start, end = params["start"], params["end"]
    with warehouse.connect() as con:
        observed = update_visitor_observations(con)  # a week never snapshotted is computed from the observations
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        movements.write_movements(log, start, end, config.order_source, config.lookback_days)
        moved = con.execute(
            f"SELECT segmentation, sum(entities) FROM segment_movements WHERE {WINDOW} AND moved GROUP BY 1", params).fetchall()
        yield dg.MaterializeResult(metadata={**table_metadata(con, "segment_movements", WINDOW, params),
                                             "moved_by_segmentation": dg.MetadataValue.json({k: int(v) for k, v in moved}),
                                             **sql_lineage_metadata(con, "segment_movements", [*observed.sql, *log.take()])})
        yield CONSERVE_ENTITIES.result(checks.movements_conserve_entities(con, start, end))
