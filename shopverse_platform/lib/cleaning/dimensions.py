"""Whole-history tables built from the clean layer: sessions and the product/customer dimensions."""

from __future__ import annotations

from pathlib import Path

import duckdb

from shopverse_platform.lib.warehouse.shapes import relation
from shopverse_platform.lib.warehouse.tables import replace_table

# Funnel steps in order; a session "reached" a step if it has the event (ordering is enforced in
# the metric layer, which needs it; here the flags describe what happened).
FUNNEL_FLAGS = {
    "viewed_item": "view_item",
    "added_to_cart": "add_to_cart",
    "began_checkout": "begin_checkout",
    "added_payment_info": "add_payment_info",
    "purchased": "purchase",
}


# A session is a bot (scripted client), not a visitor, when it sends at least BOT_MIN_EVENTS events
# at BOT_EVENTS_PER_MINUTE or more: one every two seconds, sustained, is beyond human browsing
# (the busiest human sessions of the simulator stay under 10 a minute). Defined here, with the
# sessions, and used by the metric layer and the visitor segments.
BOT_MIN_EVENTS = 30
BOT_EVENTS_PER_MINUTE = 30.0


def events_per_minute_sql(events: str, first_ts: str, last_ts: str) -> str:
    """Events per active minute as SQL, from a session's event count and first/last timestamps
    (millisecond precision; a session shorter than a minute counts as one minute)."""
    return f"({events} / greatest(date_diff('millisecond', {first_ts}, {last_ts}) / 60000.0, 1.0))"


def bot_rule_sql(events: str, first_ts: str, last_ts: str) -> str:
    """The bot rule as a SQL condition over a session's event count and first/last timestamps."""
    return (f"({events} >= {BOT_MIN_EVENTS} AND {events_per_minute_sql(events, first_ts, last_ts)} "
            f">= {BOT_EVENTS_PER_MINUTE})")


def build_sessions(con: duckdb.DuckDBPyConnection) -> int:
    events = relation(con, "clean_events")
    flags = ",\n".join(f"bool_or(event_name = '{event}') AS {flag}" for flag, event in FUNNEL_FLAGS.items())
    return replace_table(
        con,
        table="sessions",
        select_sql=f"""
        SELECT session_id,
               arg_min(anonymous_id, event_ts) AS anonymous_id,
               max(user_id) AS user_id,
               min(event_ts) AS session_start, max(event_ts) AS session_end,
               CAST(min(event_ts) AS DATE) AS session_date,
               date_diff('second', min(event_ts), max(event_ts)) AS duration_seconds,
               count(*) AS events,
               count(*) FILTER (WHERE event_name = 'page_view') AS page_views,
               count(*) FILTER (WHERE event_name = 'view_item') AS item_views,
               arg_min(device, event_ts) AS device, arg_min(country, event_ts) AS country,
               arg_min(utm_source, event_ts) AS utm_source, arg_min(referrer, event_ts) AS referrer,
               arg_min(page, event_ts) AS landing_page,
               {flags},
               sum(value) FILTER (WHERE event_name = 'purchase') AS purchase_value,
               -- events per active minute: humans rarely exceed a few; scripted clients do
               {events_per_minute_sql("count(*)", "min(event_ts)", "max(event_ts)")} AS events_per_minute,
               {bot_rule_sql("count(*)", "min(event_ts)", "max(event_ts)")} AS is_bot
        FROM {events}
        GROUP BY session_id
        """,
    )


def build_dim_products(con: duckdb.DuckDBPyConnection, catalogue_file: Path) -> int:
    events = relation(con, "clean_events")
    lines = relation(con, "clean_order_lines")
    catalogue = (
        f"SELECT CAST(product_id AS VARCHAR) AS product_id, product_name, category, CAST(price AS DOUBLE) AS list_price "
        f"FROM read_csv('{catalogue_file}', header = true, all_varchar = true)"
        if catalogue_file.is_file()
        else "SELECT NULL::VARCHAR AS product_id, NULL::VARCHAR AS product_name, NULL::VARCHAR AS category, NULL::DOUBLE AS list_price WHERE false"
    )
    return replace_table(
        con,
        table="dim_products",
        select_sql=f"""
        WITH from_events AS (
            SELECT i.item_id AS product_id, mode(i.item_name) AS product_name, mode(i.item_category) AS category,
                   median(i.price) AS list_price
            FROM (SELECT unnest(items) AS i FROM {events}) GROUP BY 1
        ),
        from_orders AS (
            SELECT stock_code AS product_id, mode(description) AS product_name, NULL::VARCHAR AS category,
                   CAST(median(unit_price) AS DOUBLE) AS list_price, mode(line_type) AS line_type
            FROM {lines} WHERE NOT is_cancellation GROUP BY 1
        ),
        catalogue AS ({catalogue}),
        ids AS (
            SELECT product_id FROM catalogue UNION SELECT product_id FROM from_events
            UNION SELECT product_id FROM from_orders
        )
        SELECT ids.product_id,
               coalesce(c.product_name, e.product_name, o.product_name) AS product_name,
               coalesce(c.category, e.category, o.category, 'uncategorised') AS category,
               coalesce(c.list_price, e.list_price, o.list_price) AS list_price,
               coalesce(o.line_type, 'product') = 'product' AS is_product,
               coalesce(o.line_type, 'product') AS line_type,
               c.product_id IS NOT NULL AS in_catalogue
        FROM ids LEFT JOIN catalogue c USING (product_id) LEFT JOIN from_events e USING (product_id)
        LEFT JOIN from_orders o USING (product_id)
        WHERE ids.product_id IS NOT NULL
        ORDER BY ids.product_id
        """,
    )


def build_dim_customers(con: duckdb.DuckDBPyConnection, customers_file: Path) -> int:
    events = relation(con, "clean_events")
    lines = relation(con, "clean_order_lines")
    profiles = (
        f"SELECT user_id AS customer_id, age_group, country AS profile_country, TRY_CAST(signup_date AS DATE) AS signup_date, "
        f"acquisition_channel FROM read_csv('{customers_file}', header = true, all_varchar = true)"
        if customers_file.is_file()
        else "SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS age_group, NULL::VARCHAR AS profile_country, "
        "NULL::DATE AS signup_date, NULL::VARCHAR AS acquisition_channel WHERE false"
    )
    return replace_table(
        con,
        table="dim_customers",
        select_sql=f"""
        WITH seen_in_events AS (
            SELECT user_id AS customer_id, min(event_ts) AS first_seen, max(event_ts) AS last_seen,
                   mode(country) AS event_country, 'events' AS source
            FROM {events} WHERE user_id IS NOT NULL GROUP BY 1
        ),
        seen_in_orders AS (
            SELECT customer_id, min(invoice_ts) AS first_seen, max(invoice_ts) AS last_seen,
                   mode(country) AS order_country, 'order_exports' AS source
            FROM {lines} WHERE customer_id IS NOT NULL GROUP BY 1
        ),
        profiles AS ({profiles}),
        ids AS (
            SELECT customer_id FROM profiles UNION SELECT customer_id FROM seen_in_events
            UNION SELECT customer_id FROM seen_in_orders
        )
        SELECT ids.customer_id,
               p.age_group, coalesce(p.profile_country, e.event_country, o.order_country) AS country,
               p.signup_date, p.acquisition_channel,
               least(e.first_seen, o.first_seen) AS first_seen, greatest(e.last_seen, o.last_seen) AS last_seen,
               CASE WHEN e.customer_id IS NOT NULL AND o.customer_id IS NOT NULL THEN 'events+order_exports'
                    WHEN o.customer_id IS NOT NULL THEN 'order_exports'
                    WHEN e.customer_id IS NOT NULL THEN 'events' ELSE 'profile_only' END AS source
        FROM ids LEFT JOIN profiles p USING (customer_id) LEFT JOIN seen_in_events e USING (customer_id)
        LEFT JOIN seen_in_orders o USING (customer_id)
        WHERE ids.customer_id IS NOT NULL
        ORDER BY ids.customer_id
        """,
    )
