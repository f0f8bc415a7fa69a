"""Whole-history tables: ``customer_metrics`` and ``seasonality``. Rebuilt whole on every run.

Customers are identified customers only: guest orders have no one to attach history to.
Seasonality slots are UTC and leave bot sessions out; revenue there is what orders billed (gross: when customers buy), the net
revenue column nets credits in the slot they happened. The peak slot by revenue ranks what the slot's orders kept after
every cancellation and refund of them (in the order's slot), so a huge order cancelled minutes later sets no peak. Recency is measured at ``as_of_date`` = the last day with any order document in the warehouse, so
a rebuild on the same data gives the same figures whatever day it runs.
"""

from __future__ import annotations

import duckdb

from shopverse_platform.lib.metrics.sources import (
    customer_documents,
    replace_whole,
    revenue_documents,
    session_stats,
    source,
    table_or_empty,
)
from shopverse_platform.lib.warehouse.sql import load_sql
from shopverse_platform.lib.warehouse.tables import replace_table


def build_customer_metrics(con: duckdb.DuckDBPyConnection) -> int:
    dim = table_or_empty(con, "dim_customers", load_sql(__file__, "empty_dim_customers"))
    return replace_table(con, table="customer_metrics", select_sql=load_sql(__file__, "customer_metrics", dim_customers=dim,
                                                                                documents=customer_documents()))


# Slot labels: ``weekday`` 0 is Monday (ISO), ``month`` 1 is January.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def build_seasonality(con: duckdb.DuckDBPyConnection) -> int:
    sql = load_sql(__file__, "seasonality", events=source(con, "clean_events"), sessions=session_stats(con),
                   documents=revenue_documents())
    return replace_whole(con, "seasonality", sql, {"weekdays": list(WEEKDAYS), "months": list(MONTHS)})


def peak_slots(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """The named peak slots, for the asset's metadata and reports."""
    found = dict.fromkeys(["hour_of_week_by_events", "hour_of_week_by_revenue", "month_by_events", "month_by_revenue"])
    for grain, slot, by_events, by_revenue in con.execute(load_sql(__file__, "peak_slots")).fetchall():
        if by_events:
            found[f"{grain}_by_events"] = slot
        if by_revenue:
            found[f"{grain}_by_revenue"] = slot
    return found
