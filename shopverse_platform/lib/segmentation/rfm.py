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
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql

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


def value_tiers_sql(con: duckdb.DuckDBPyConnection, order_source: str | None = None) -> SqlText:
    """Customers with any order or credit before ``$before``, with their tier by net revenue.

    The query's only parameter is ``$before``; the tiers and the order source are bound now, into
    connection variables the query reads, so run the text on ``con`` before making another one."""
    state = customer_state_sql(con, order_source)
    con.execute(load_sql(__file__, "value_tiers_settings"),
                {"names": [name for name, _ in VALUE_TIERS], "thresholds": [threshold for _, threshold in VALUE_TIERS]})
    return load_sql(__file__, "value_tiers", customer_state=state)


def rfm_segments_sql(con: duckdb.DuckDBPyConnection, order_source: str | None = None) -> SqlText:
    """Customers with at least one order before ``$before``: recency, frequency, monetary, their
    1-5 scores, the FM score and the named segment.

    The query's only parameter is ``$before``; the grid and the order source are bound now, into
    connection variables the query reads, so run the text on ``con`` before making another one."""
    state = customer_state_sql(con, order_source)
    grid = [{"r_score": r, "fm_score": fm, "rfm_segment": name} for (r, fm), name in sorted(RFM_GRID.items())]
    con.execute(load_sql(__file__, "rfm_grid_settings"), {"grid": grid})
    return load_sql(__file__, "rfm_segments", customer_state=state)


def as_of(con: duckdb.DuckDBPyConnection, sql: str, day: date) -> list[tuple]:
    """Run a segmentation query as of ``day`` and return its rows (for tests and snapshots)."""
    return con.execute(sql, as_of_params(day)).fetchall()
