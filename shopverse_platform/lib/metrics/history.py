"""Whole-history tables: ``customer_metrics`` (its per-customer totals kept up to date from the
days whose documents changed) and ``seasonality`` (rebuilt whole, weekly).

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
from shopverse_platform.lib.warehouse.column_docs import write_comments
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql
from shopverse_platform.lib.warehouse.tables import IncrementalBuild, in_transaction, rebuild_table, stored_state_matches


def build_customer_metrics(con: duckdb.DuckDBPyConnection, full: bool = False) -> IncrementalBuild:
    """Bring ``customer_metrics`` up to date with ``orders``.

    Incremental by construction, as ``sessions``: ``customer_sources`` keeps a fingerprint of each
    day of orders as of the last build, ``customer_order_days`` which days each customer had
    documents on; only the customers with a document on a changed day, now or before, get their
    totals (``customer_totals``) recomputed, over all their documents. The table is then projected
    from the totals (recency moves for everyone every day, a pass over customers, not documents).
    Without that state, when the stored totals' columns are not the query's, or with ``full``,
    every customer is recomputed."""
    documents = customer_documents()
    everyone = load_sql(__file__, "customer_totals", documents=documents, customers=SqlText("true"))

    def update() -> tuple[str, str]:
        # everything read here, inside the transaction: done again after meeting another commit
        # (in_transaction), it reads that commit's rows
        dim = table_or_empty(con, "dim_customers", load_sql(__file__, "empty_dim_customers"))
        metrics = load_sql(__file__, "customer_metrics", dim_customers=dim)
        con.execute(load_sql(__file__, "customer_sources_now"))
        state = not full and stored_state_matches(con, ("customer_totals", "customer_sources", "customer_order_days"),
                                                  everyone)
        if state:
            con.execute(load_sql(__file__, "customer_metrics_affected"))
            days = con.execute("SELECT count(*) FROM _customer_changed_days").fetchone()[0]
            affected = con.execute("SELECT count(*) FROM _customers_affected").fetchone()[0]
            con.execute("DELETE FROM customer_totals WHERE customer_id IN (SELECT customer_id FROM _customers_affected)")
            con.execute("INSERT INTO customer_totals " + load_sql(
                __file__, "customer_totals", documents=documents,
                customers=SqlText("customer_id IN (SELECT customer_id FROM _customers_affected)")))
            con.execute("DELETE FROM customer_order_days WHERE order_date IN (SELECT order_date FROM _customer_changed_days)")
            con.execute("INSERT INTO customer_order_days SELECT DISTINCT customer_id, order_date FROM orders "
                        "WHERE customer_id IS NOT NULL AND order_date IN (SELECT order_date FROM _customer_changed_days)")
            mode = f"incremental ({days} changed days, {affected} customers recomputed)"
        else:
            con.execute(f"CREATE OR REPLACE TABLE customer_totals AS {everyone}")
            con.execute("CREATE OR REPLACE TABLE customer_order_days AS "
                        "SELECT DISTINCT customer_id, order_date FROM orders WHERE customer_id IS NOT NULL")
            mode = "full"
        rebuild_table(con, "customer_sources", "SELECT * FROM _customer_sources_now")
        rebuild_table(con, "customer_metrics", metrics)
        # the tables created anew get their column comments in the same commit (one snapshot on a
        # DuckLake); rebuild_table writes those of the tables it creates
        for replaced in () if state else ("customer_totals", "customer_order_days"):
            write_comments(con, replaced)
        return mode, f"CREATE OR REPLACE TABLE customer_metrics AS {metrics}"

    mode, final = in_transaction(con, update, writes=("customer_totals", "customer_order_days", "customer_sources",
                                                      "customer_metrics"))
    return IncrementalBuild(mode, [f"CREATE OR REPLACE TABLE customer_totals AS {everyone}", final])


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
