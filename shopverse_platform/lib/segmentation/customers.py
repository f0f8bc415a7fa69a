"""Point-in-time customer state from the ``orders`` fact: what was known about each customer at the
end of a day, using only documents dated on or before it.

Shared by the segmentations (as of a day) and by the models' customer features (as of the day
before a cutoff), so a segment and a feature called "recency" always mean the same thing.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from shopverse_platform.lib.warehouse.sql import SqlText, TableName, load_sql, table
from shopverse_platform.lib.warehouse.tables import table_exists

ORDER_SOURCES: tuple[str, ...] = ("events", "order_export")


def orders_relation(con: duckdb.DuckDBPyConnection) -> TableName | SqlText:
    """The ``orders`` fact, or an empty relation of its shape before the metric layer has run."""
    return table("orders") if table_exists(con, "orders") else SqlText(f"({load_sql(__file__, 'empty_orders')})")


def checked_source(order_source: str | None) -> str | None:
    """``order_source`` if it is one the orders fact knows ('events' or 'order_export'), or None (all)."""
    if order_source is not None and order_source not in ORDER_SOURCES:
        raise ValueError(f"order_source must be 'events', 'order_export' or None, not {order_source!r}")
    return order_source


def last_order_date(con: duckdb.DuckDBPyConnection, order_source: str | None = None) -> date | None:
    """The last day with any sales document: the default "as of" of every customer table."""
    return con.execute(load_sql(__file__, "last_order_date", orders=orders_relation(con)),
                       {"order_source": checked_source(order_source)}).fetchone()[0]


def customer_state_sql(con: duckdb.DuckDBPyConnection, order_source: str | None = None) -> SqlText:
    """One row per identified customer with an order or a credit dated before ``$before`` (exclusive).

    Columns (all as of the day before ``$before``): ``orders`` (documents that bill), ``order_days``,
    ``cancellations``, first/last order date, ``recency_days`` (days since the last order),
    ``age_days`` (days since the first order), ``tenure_days`` (first to last order),
    gross/net revenue, ``orders_30d``/``orders_90d``/``revenue_90d`` (the last 30/90 days),
    units and distinct products per order, ``cancellation_rate`` and ``days_between_orders``
    (age for a one-order customer: the gap is at least that long). Customers with credits only
    (a cancellation of an order from before the data starts) have ``orders = 0`` and NULL dates.

    The query's only parameter is ``$before``: ``order_source`` is bound now, into the connection
    variable the query reads (``customer_state_settings.sql``), so run the text on ``con`` before
    making another one with a different source.
    """
    con.execute(load_sql(__file__, "customer_state_settings"), {"order_source": checked_source(order_source)})
    return load_sql(__file__, "customer_state", orders=orders_relation(con))


def as_of_params(as_of: date | None) -> dict[str, date | None]:
    """Query parameters for a state at the end of ``as_of``; no day (no orders yet) selects nothing."""
    return {"before": as_of + timedelta(days=1) if as_of else None}
