"""A DuckLake warehouse's weekly maintenance, scheduled like the reports: no one has to remember it.

Every daily run replaces partitions, and on a DuckLake each replacement is a snapshot and a few
more Parquet files that the catalog lists for every later scan of the table. Left alone, a lake's
reads slow down with its history: a day's read of a table 9.7 ms after 30 days of daily runs, 29.2
ms after a year (4,393 snapshots, 4,404 files in 12 tables), 11.1 ms once maintained
(bench/lake_maintenance.py, docs/scaling.md). ``shopverse warehouse maintain`` does the same from
the command line.
"""

import dagster as dg
from pydantic import Field

from shopverse_platform.defs.automation.jobs import WAREHOUSE_TAG
from shopverse_platform.defs.automation.schedules import each_week
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.automation.settings import AutomationSettings, automation_settings
from shopverse_platform.lib.warehouse.lake import maintain

DEFAULT_KEEP = "7 days"


class MaintenanceConfig(dg.Config):
    keep: str = Field(default=DEFAULT_KEEP, description=(
        "How far back the lake's history stays readable (time travel, and readers that started before): "
        "snapshots older than this are expired, files no snapshot has used for this long deleted. An interval."))


@dg.op(description=(
    "A DuckLake's maintenance in one CHECKPOINT: inlined rows flushed to Parquet, snapshots older than `keep` "
    "expired, small adjacent files merged, files no snapshot has used for `keep` deleted. A DuckDB-file "
    "warehouse reclaims its space by itself: nothing to do."))
def maintain_warehouse(context: dg.OpExecutionContext, config: MaintenanceConfig, warehouse: Warehouse) -> dg.Output[None]:
    if warehouse.lake() is None:
        context.log.info(f"{warehouse.describe()} is a DuckDB file: nothing to maintain")
        return dg.Output(None, metadata={"warehouse": warehouse.describe(), "maintained": False})
    if not warehouse.exists():
        context.log.info(f"no warehouse at {warehouse.describe()} yet: nothing to maintain")
        return dg.Output(None, metadata={"warehouse": warehouse.describe(), "maintained": False})
    with warehouse.connect() as con:
        before, after = maintain(con, config.keep)
    return dg.Output(None, metadata={
        "warehouse": warehouse.describe(), "maintained": True, "keep": config.keep,
        "snapshots_before": before.snapshots, "snapshots_after": after.snapshots,
        "data_files_before": before.data_files, "data_files_after": after.data_files,
        "data_mb_before": round(before.data_bytes / 1e6, 1), "data_mb_after": round(after.data_bytes / 1e6, 1),
    })


@dg.job(tags={WAREHOUSE_TAG: "write"}, description=(
    "A DuckLake warehouse's maintenance (old snapshots expired, small files merged, unused files deleted), "
    "so that its reads do not slow down with its history. Launched by the lake maintenance schedule once a "
    "week; queued behind the other writers."))
def lake_maintenance_job():
    maintain_warehouse()


def build_lake_maintenance_schedule(settings: AutomationSettings, on_a_lake: bool) -> dg.ScheduleDefinition:
    """Weekly, at the weekly time; running by default when the warehouse is a DuckLake, stopped on a
    DuckDB file (which has nothing to maintain)."""
    return each_week(settings, "lake_maintenance_schedule", lake_maintenance_job,
                     "a DuckLake warehouse's maintenance (old snapshots expired, small files merged). Stopped by "
                     "default on a DuckDB-file warehouse, which has nothing to maintain.",
                     partitioned=False,
                     default_status=dg.DefaultScheduleStatus.RUNNING if on_a_lake else dg.DefaultScheduleStatus.STOPPED)


@dg.definitions
def lake_maintenance() -> dg.Definitions:
    on_a_lake = Warehouse().lake() is not None
    return dg.Definitions(jobs=[lake_maintenance_job],
                          schedules=[build_lake_maintenance_schedule(automation_settings(), on_a_lake)])
