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
from shopverse_platform.lib.warehouse.tables import replace_date_range, table_exists

SEGMENTATIONS: tuple[str, ...] = ("value_tier", "rfm_segment", "intent_segment")
ENTERED, LEFT = "(new)", "(left)"


def snapshot_sql(con: duckdb.DuckDBPyConnection, order_source: str | None, lookback_days: int) -> str:
    """The snapshot rows of the week starting ``$week_start`` (parameter ``$before`` = the Monday after)."""
    head = "CAST($week_start AS DATE) AS week_start, CAST($before AS DATE) - 1 AS as_of_date"
    return f"""
    SELECT {head}, 'value_tier' AS segmentation, customer_id AS entity_id, value_tier AS segment,
           CAST(net_revenue AS DECIMAL(18,2)) AS value
    FROM ({value_tiers_sql(con, order_source)})
    UNION ALL
    SELECT {head}, 'rfm_segment', customer_id, rfm_segment, CAST(monetary AS DECIMAL(18,2))
    FROM ({rfm_segments_sql(con, order_source)})
    UNION ALL
    SELECT {head}, 'intent_segment', visitor_id, intent_segment, CAST(revenue_total AS DECIMAL(18,2))
    FROM ({intent_segments_sql(con, lookback_days)})
    """


def week_params(week_start: date) -> dict[str, date]:
    return {"week_start": week_start, "before": week_start + timedelta(days=7)}


def weeks_in(start: date, end: date) -> list[date]:
    """The Mondays of the weekly partitions in [start, end)."""
    return [start + timedelta(days=7 * i) for i in range((end - start).days // 7)]


def write_snapshots(con: duckdb.DuckDBPyConnection, start: date, end: date, order_source: str | None,
                    lookback_days: int) -> int:
    """Replace the snapshots of every week in [start, end), one week at a time, each atomically."""
    sql = snapshot_sql(con, order_source, lookback_days)
    rows = 0
    for week in weeks_in(start, end):
        con.execute(f"CREATE OR REPLACE TEMP TABLE _new_snapshot AS {sql}", week_params(week))
        rows += replace_date_range(con, table="segment_snapshots", date_column="week_start", start=week,
                                   end=week + timedelta(days=7), select_sql="SELECT * FROM _new_snapshot")
    con.execute("DROP TABLE IF EXISTS _new_snapshot")
    return rows


def _stored_or_computed(con: duckdb.DuckDBPyConnection, week: date, order_source: str | None, lookback_days: int) -> str:
    """A temp table with the week's snapshot: the stored one, else computed now (same code)."""
    stored = table_exists(con, "segment_snapshots") and con.execute(
        "SELECT count(*) FROM segment_snapshots WHERE week_start = ?", [week]).fetchone()[0] > 0
    name = f"_snapshot_{week:%Y%m%d}"
    if stored:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM segment_snapshots WHERE week_start = $w", {"w": week})
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {snapshot_sql(con, order_source, lookback_days)}", week_params(week))
    return name


MOVEMENTS_SQL = f"""
WITH joined AS (
    SELECT coalesce(c.segmentation, p.segmentation) AS segmentation,
           coalesce(c.entity_id, p.entity_id) AS entity_id,
           coalesce(p.segment, '{ENTERED}') AS from_segment, coalesce(c.segment, '{LEFT}') AS to_segment,
           coalesce(c.value, p.value) AS value,
           coalesce(c.value, p.value) - coalesce(p.value, 0) AS value_change
    FROM {{current}} c FULL OUTER JOIN {{previous}} p ON c.segmentation = p.segmentation AND c.entity_id = p.entity_id
)
SELECT CAST($week AS DATE) AS week_start, segmentation, from_segment, to_segment,
       from_segment <> to_segment AS moved, count(*) AS entities,
       CAST(coalesce(sum(value), 0) AS DECIMAL(18,2)) AS value,
       CAST(coalesce(sum(value_change), 0) AS DECIMAL(18,2)) AS value_change,
       list(entity_id ORDER BY entity_id) AS entity_ids
FROM joined
GROUP BY segmentation, from_segment, to_segment
"""


def write_movements(con: duckdb.DuckDBPyConnection, start: date, end: date, order_source: str | None,
                    lookback_days: int) -> int:
    rows = 0
    for week in weeks_in(start, end):
        current = _stored_or_computed(con, week, order_source, lookback_days)
        previous = _stored_or_computed(con, week - timedelta(days=7), order_source, lookback_days)
        sql = MOVEMENTS_SQL.format(current=current, previous=previous)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _new_movements AS {sql}", {"week": week})
        rows += replace_date_range(con, table="segment_movements", date_column="week_start", start=week,
                                   end=week + timedelta(days=7), select_sql="SELECT * FROM _new_movements")
        for name in {current, previous}:
            con.execute(f"DROP TABLE IF EXISTS {name}")
    con.execute("DROP TABLE IF EXISTS _new_movements")
    return rows
