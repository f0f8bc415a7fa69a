"""Value tiers and RFM segments, as of a day, in DuckDB SQL.

Value tiers rank customers by net revenue to date (percent rank: the share of other customers
with less): VIP from the 95th percentile, High from the 67th, Medium from the 33rd, Low below.
Customers with equal revenue always share a tier.

RFM scores are 1-5: ``1 + floor(5 x percent_rank)``, capped at 5, where recency is ranked so that
the most recent buyers score highest and frequency (orders) and monetary (net revenue) so that
the largest score highest. Ties share a score (many one-order customers all get F = 1). The named
segment is read from the grid of R against FM = ceil((F + M) / 2); see ``RFM_GRID`` and docs/models.md.
"""

from __future__ import annotations

from datetime import date

import duckdb

from shopverse_platform.lib.segmentation.customers import (
    as_of_params,
    customer_state_sql,
)

VALUE_TIERS: tuple[tuple[str, float], ...] = (("VIP", 0.95), ("High", 0.67), ("Medium", 0.33), ("Low", 0.0))

RFM_SEGMENTS: tuple[str, ...] = (
    "Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "Promising",
    "Need Attention", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
)

# R (rows, 5 = bought most recently) against FM (columns 1..5): every cell names one segment.
_GRID_ROWS = {
    5: ("New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers", "Champions"),
    3: ("Need Attention", "Need Attention", "Need Attention", "Loyal Customers", "Loyal Customers"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them"),
}
RFM_GRID: dict[tuple[int, int], str] = {(r, fm + 1): name for r, row in _GRID_ROWS.items() for fm, name in enumerate(row)}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def value_tiers_sql(con: duckdb.DuckDBPyConnection, order_source: str | None = None) -> str:
    """Customers with any order or credit before ``$before``, with their tier by net revenue."""
    tier = "CASE " + " ".join(
        f"WHEN revenue_percentile >= {threshold} THEN {_quote(name)}" for name, threshold in VALUE_TIERS[:-1]
    ) + f" ELSE {_quote(VALUE_TIERS[-1][0])} END"
    rank = "CASE " + " ".join(f"WHEN value_tier = {_quote(name)} THEN {i + 1}" for i, (name, _) in enumerate(VALUE_TIERS)) + " END"
    return f"""
    WITH state AS ({customer_state_sql(con, order_source)}),
    ranked AS (SELECT *, percent_rank() OVER (ORDER BY net_revenue) AS revenue_percentile FROM state),
    tiered AS (SELECT *, {tier} AS value_tier FROM ranked)
    SELECT customer_id, CAST($before AS DATE) - 1 AS as_of_date, value_tier, {rank} AS tier_rank,
           revenue_percentile, CAST(net_revenue AS DECIMAL(18,2)) AS net_revenue, orders, last_order_date
    FROM tiered
    """


def rfm_segments_sql(con: duckdb.DuckDBPyConnection, order_source: str | None = None) -> str:
    """Customers with at least one order before ``$before``: recency, frequency, monetary, their
    1-5 scores, the FM score and the named segment."""
    grid = ", ".join(f"({r}, {fm}, {_quote(name)})" for (r, fm), name in sorted(RFM_GRID.items()))
    return f"""
    WITH state AS (SELECT * FROM ({customer_state_sql(con, order_source)}) WHERE orders > 0),
    scored AS (
        SELECT *,
               CAST(least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY recency_days DESC))) AS INTEGER) AS r_score,
               CAST(least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY orders))) AS INTEGER) AS f_score,
               CAST(least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY net_revenue))) AS INTEGER) AS m_score
        FROM state
    ),
    grid(r_score, fm_score, rfm_segment) AS (VALUES {grid})
    SELECT s.customer_id, CAST($before AS DATE) - 1 AS as_of_date,
           s.recency_days, s.orders AS frequency, CAST(s.net_revenue AS DECIMAL(18,2)) AS monetary,
           s.r_score, s.f_score, s.m_score, CAST(ceil((s.f_score + s.m_score) / 2) AS INTEGER) AS fm_score,
           CAST(s.r_score AS VARCHAR) || CAST(s.f_score AS VARCHAR) || CAST(s.m_score AS VARCHAR) AS rfm_code,
           g.rfm_segment, s.last_order_date
    FROM scored s JOIN grid g ON g.r_score = s.r_score AND g.fm_score = CAST(ceil((s.f_score + s.m_score) / 2) AS INTEGER)
    """


def as_of(con: duckdb.DuckDBPyConnection, sql: str, day: date) -> list[tuple]:
    """Run a segmentation query as of ``day`` and return its rows (for tests and snapshots)."""
    return con.execute(sql, as_of_params(day)).fetchall()
