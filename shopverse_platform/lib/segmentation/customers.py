"""Point-in-time customer state from the ``orders`` fact: what was known about each customer at the
end of a day, using only documents dated on or before it.

Shared by the segmentations (as of a day) and by the models' customer features (as of the day
before a cutoff), so a segment and a feature called "recency" always mean the same thing.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from shopverse_platform.lib.warehouse.tables import table_exists

EMPTY_ORDERS = """SELECT NULL::DATE AS order_date, NULL::VARCHAR AS source, NULL::VARCHAR AS document_id,
    NULL::VARCHAR AS customer_id, NULL::BIGINT AS units, NULL::BIGINT AS products,
    NULL::DECIMAL(18,2) AS gross_amount, NULL::DECIMAL(18,2) AS credited_amount, NULL::DECIMAL(18,2) AS net_amount,
    NULL::BOOLEAN AS is_order, NULL::BOOLEAN AS is_credit WHERE false"""


def orders_relation(con: duckdb.DuckDBPyConnection) -> str:
    """The ``orders`` fact, or an empty relation of its shape before the metric layer has run."""
    return "orders" if table_exists(con, "orders") else f"({EMPTY_ORDERS})"


def source_filter(order_source: str | None) -> str:
    """SQL condition restricting the orders to one source ('events' or 'order_export'); all when None."""
    if order_source is None:
        return "true"
    if order_source not in ("events", "order_export"):
        raise ValueError(f"order_source must be 'events', 'order_export' or None, not {order_source!r}")
    return f"source = '{order_source}'"


def last_order_date(con: duckdb.DuckDBPyConnection, order_source: str | None = None) -> date | None:
    """The last day with any sales document: the default "as of" of every customer table."""
    return con.execute(
        f"SELECT max(order_date) FROM {orders_relation(con)} WHERE {source_filter(order_source)}"
    ).fetchone()[0]


def customer_state_sql(con: duckdb.DuckDBPyConnection, order_source: str | None = None) -> str:
    """One row per identified customer with an order or a credit dated before ``$before`` (exclusive).

    Columns (all as of the day before ``$before``): ``orders`` (documents that bill), ``order_days``,
    ``cancellations``, first/last order date, ``recency_days`` (days since the last order),
    ``age_days`` (days since the first order), ``tenure_days`` (first to last order),
    gross/net revenue, ``orders_30d``/``orders_90d``/``revenue_90d`` (the last 30/90 days),
    units and distinct products per order, ``cancellation_rate`` and ``days_between_orders``
    (age for a one-order customer: the gap is at least that long). Customers with credits only
    (a cancellation of an order from before the data starts) have ``orders = 0`` and NULL dates.
    """
    return f"""
    WITH docs AS (
        SELECT customer_id, order_date, is_order, is_credit, units, products,
               CAST(gross_amount AS DOUBLE) AS gross, CAST(net_amount AS DOUBLE) AS net
        FROM {orders_relation(con)}
        WHERE customer_id IS NOT NULL AND (is_order OR is_credit) AND order_date < $before
          AND {source_filter(order_source)}
    ),
    per_customer AS (
        SELECT customer_id,
               count(*) FILTER (WHERE is_order) AS orders,
               count(DISTINCT order_date) FILTER (WHERE is_order) AS order_days,
               count(*) FILTER (WHERE is_credit) AS cancellations,
               min(order_date) FILTER (WHERE is_order) AS first_order_date,
               max(order_date) FILTER (WHERE is_order) AS last_order_date,
               coalesce(sum(gross) FILTER (WHERE is_order), 0) AS gross_revenue,
               coalesce(sum(net), 0) AS net_revenue,
               count(*) FILTER (WHERE is_order AND order_date >= CAST($before AS DATE) - INTERVAL 30 DAY) AS orders_30d,
               count(*) FILTER (WHERE is_order AND order_date >= CAST($before AS DATE) - INTERVAL 90 DAY) AS orders_90d,
               coalesce(sum(net) FILTER (WHERE order_date >= CAST($before AS DATE) - INTERVAL 90 DAY), 0) AS revenue_90d,
               coalesce(sum(units) FILTER (WHERE is_order), 0) AS units,
               coalesce(sum(products) FILTER (WHERE is_order), 0) AS product_lines
        FROM docs GROUP BY customer_id
    )
    SELECT customer_id, orders, order_days, cancellations, first_order_date, last_order_date,
           date_diff('day', last_order_date, CAST($before AS DATE) - 1) AS recency_days,
           date_diff('day', first_order_date, CAST($before AS DATE) - 1) AS age_days,
           date_diff('day', first_order_date, last_order_date) AS tenure_days,
           gross_revenue, net_revenue,
           CASE WHEN orders > 0 THEN gross_revenue / orders END AS average_order_value,
           orders_30d, orders_90d, revenue_90d,
           CASE WHEN orders > 0 THEN units / orders END AS units_per_order,
           CASE WHEN orders > 0 THEN product_lines / orders END AS products_per_order,
           CASE WHEN orders > 0 THEN cancellations / orders END AS cancellation_rate,
           CASE WHEN order_days > 1 THEN date_diff('day', first_order_date, last_order_date) / (order_days - 1)
                ELSE date_diff('day', first_order_date, CAST($before AS DATE) - 1) END AS days_between_orders
    FROM per_customer
    """


def as_of_params(as_of: date | None) -> dict[str, date | None]:
    """Query parameters for a state at the end of ``as_of``; no day (no orders yet) selects nothing."""
    return {"before": as_of + timedelta(days=1) if as_of else None}
