"""Weekly segment snapshots and the week-over-week movements between segments.

A snapshot holds, for one week (Monday to Sunday, UTC), every customer's value tier and RFM segment
and every recent visitor's intent segment as of the Sunday. Movements compare a week's snapshot
with the week before: one row per segmentation and (from, to) pair with the number of customers or
visitors, their value (net revenue to date; visitors: purchase revenue to date), the change of
that value over the week, and who they are. ``(new)`` on the from side means not in the
segmentation the week before (a first order, a new visitor); ``(left)`` on the to side means no
longer in it (a visitor not seen in the lookback any more).
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from shopverse_platform.lib.segmentation.intent import intent_segments_sql
from shopverse_platform.lib.segmentation.rfm import rfm_segments_sql, value_tiers_sql
from shopverse_platform.lib.warehouse.sql import SqlText, TableName, load_sql, table
from shopverse_platform.lib.warehouse.tables import replace_date_range, table_exists

SEGMENTATIONS: tuple[str, ...] = ("value_tier", "rfm_segment", "intent_segment")
ENTERED, LEFT = "(new)", "(left)"


def snapshot_sql(con: duckdb.DuckDBPyConnection, order_source: str | None, lookback_days: int) -> SqlText:
    """The snapshot rows of the week starting ``$week_start`` (parameter ``$before`` = the Monday after)."""
    return load_sql(
        __file__, "segment_snapshots",
        value_tiers=value_tiers_sql(con, order_source),
        rfm_segments=rfm_segments_sql(con, order_source),
        intent_segments=intent_segments_sql(con, lookback_days),
    )


def week_params(week_start: date) -> dict[str, date]:
    return {"week_start": week_start, "before": week_start + timedelta(days=7)}


def weeks_in(start: date, end: date) -> list[date]:
    """The Mondays of the weekly partitions in [start, end)."""
    return [start + timedelta(days=7 * i) for i in range((end - start).days // 7)]


def write_snapshots(con: duckdb.DuckDBPyConnection, start: date, end: date, order_source: str | None,
                    lookback_days: int) -> int:
    """Replace the snapshots of every week in [start, end), one week at a time, each atomically."""
    sql = snapshot_sql(con, order_source, lookback_days)
    staging = table("_new_snapshot")
    rows = 0
    for week in weeks_in(start, end):
        con.execute(load_sql(__file__, "staging_table", staging=staging, query=sql), week_params(week))
        rows += replace_date_range(con, table="segment_snapshots", date_column="week_start", start=week,
                                   end=week + timedelta(days=7), select_sql=load_sql(__file__, "staging_rows", staging=staging))
    con.execute(load_sql(__file__, "drop_staging_table", staging=staging))
    return rows


def _stored_or_computed(con: duckdb.DuckDBPyConnection, week: date, order_source: str | None, lookback_days: int) -> TableName:
    """A temp table with the week's snapshot: the stored one, else computed now (same code)."""
    stored = table_exists(con, "segment_snapshots") and con.execute(
        load_sql(__file__, "stored_snapshot_rows"), {"week": week}).fetchone()[0] > 0
    name = table(f"_snapshot_{week:%Y%m%d}")
    if stored:
        con.execute(load_sql(__file__, "stored_snapshot", snapshot=name), {"week": week})
    else:
        con.execute(load_sql(__file__, "staging_table", staging=name, query=snapshot_sql(con, order_source, lookback_days)),
                    week_params(week))
    return name


def write_movements(con: duckdb.DuckDBPyConnection, start: date, end: date, order_source: str | None,
                    lookback_days: int) -> int:
    rows = 0
    staging = table("_new_movements")
    for week in weeks_in(start, end):
        current = _stored_or_computed(con, week, order_source, lookback_days)
        previous = _stored_or_computed(con, week - timedelta(days=7), order_source, lookback_days)
        sql = load_sql(__file__, "segment_movements", current=current, previous=previous)
        con.execute(load_sql(__file__, "staging_table", staging=staging, query=sql),
                    {"week": week, "entered": ENTERED, "left": LEFT})
        rows += replace_date_range(con, table="segment_movements", date_column="week_start", start=week,
                                   end=week + timedelta(days=7), select_sql=load_sql(__file__, "staging_rows", staging=staging))
        for name in {current, previous}:
            con.execute(load_sql(__file__, "drop_staging_table", staging=name))
    con.execute(load_sql(__file__, "drop_staging_table", staging=staging))
    return rows
