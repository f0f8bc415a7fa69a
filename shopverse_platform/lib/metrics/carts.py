"""``cart_abandonment`` and ``product_performance``.

A cart lives in a session: it is created by the session's first add_to_cart and converted when the
session purchases after that; otherwise it is abandoned (a later session buying the same goods is a
new cart). Carts count on the day their session started, bot sessions excluded. The value left in an
abandoned cart is what was added minus what was removed, at the prices of the cart events.

Customer segment of a cart: ``anonymous`` (no user id in the session), ``new`` (identified, no order
before that day) or ``returning``.
"""

from __future__ import annotations

from datetime import date

import duckdb

from shopverse_platform.lib.metrics.sources import (
    create_window_events,
    days_sql,
    replace_window,
)

TOP_PRODUCTS = 10


def _breakdown(key: str) -> str:
    return f"""(
        SELECT session_date, list({{'key': k, 'carts': carts, 'abandoned': abandoned,
                                    'abandonment_rate': abandoned / carts, 'abandoned_value': value}} ORDER BY k) AS v
        FROM (SELECT session_date, CAST({key} AS VARCHAR) AS k, count(*) AS carts,
                     count(*) FILTER (WHERE NOT converted) AS abandoned,
                     CAST(coalesce(sum(left_value) FILTER (WHERE NOT converted), 0) AS DECIMAL(18,2)) AS value
              FROM carts GROUP BY ALL)
        GROUP BY session_date)"""


CART_ABANDONMENT_SQL = f"""
WITH days AS ({days_sql(column="cart_date")}),
ev AS (  -- a cart's story: its adds, removes and purchases
    SELECT session_id, session_date, session_start, session_device, session_country, session_user_id,
           event_name, event_ts, items
    FROM _window_events
    WHERE session_date >= $start AND session_date < $end AND NOT is_bot
      AND event_name IN ('add_to_cart', 'remove_from_cart', 'purchase')
),
firsts AS (
    SELECT customer_id, min(order_date) AS first_order_date FROM orders
    WHERE is_order AND customer_id IS NOT NULL AND order_date < $end GROUP BY customer_id
),
adds AS (SELECT session_id, min(event_ts) AS first_add FROM ev WHERE event_name = 'add_to_cart' GROUP BY session_id),
contents AS (
    SELECT session_id, item.item_id AS product_id, max(item.item_name) AS product_name,
           sum(CASE WHEN event_name = 'add_to_cart' THEN 1 ELSE -1 END * coalesce(item.quantity, 1)) AS units,
           arg_max(item.price, event_ts) AS price
    FROM (SELECT session_id, event_name, event_ts, unnest(items) AS item FROM ev
          WHERE event_name IN ('add_to_cart', 'remove_from_cart') AND session_id IN (SELECT session_id FROM adds))
    GROUP BY ALL
),
left_in_cart AS (
    SELECT session_id, sum(greatest(units, 0) * price) AS left_value FROM contents GROUP BY session_id
),
carts AS (
    SELECT e.session_date, e.session_id, any_value(e.session_start) AS session_start,
           coalesce(any_value(e.session_device), 'unknown') AS device,
           coalesce(any_value(e.session_country), 'unknown') AS country,
           CASE WHEN any_value(e.session_user_id) IS NULL THEN 'anonymous'
                WHEN any_value(f.first_order_date) < e.session_date THEN 'returning' ELSE 'new' END AS segment,
           bool_or(e.event_name = 'purchase' AND e.event_ts >= a.first_add) AS converted,
           coalesce(any_value(l.left_value), 0) AS left_value
    FROM ev e JOIN adds a USING (session_id)
    LEFT JOIN left_in_cart l USING (session_id)
    LEFT JOIN firsts f ON f.customer_id = e.session_user_id
    GROUP BY e.session_date, e.session_id
),
per_day AS (
    SELECT session_date, count(*) AS carts_created, count(*) FILTER (WHERE converted) AS carts_converted,
           count(*) FILTER (WHERE NOT converted) AS carts_abandoned,
           sum(left_value) FILTER (WHERE NOT converted) AS abandoned_value
    FROM carts GROUP BY session_date
),
top_products AS (
    SELECT session_date, list({{'product_id': product_id, 'product_name': product_name, 'carts': n, 'units': units,
                               'value': value}} ORDER BY n DESC, value DESC, product_id)[:{TOP_PRODUCTS}] AS v
    FROM (SELECT c.session_date, x.product_id, max(x.product_name) AS product_name, count(*) AS n,
                 sum(x.units) AS units, CAST(sum(x.units * x.price) AS DECIMAL(18,2)) AS value
          FROM carts c JOIN contents x USING (session_id)
          WHERE NOT c.converted AND x.units > 0 GROUP BY ALL)
    GROUP BY session_date
)
SELECT days.cart_date,
       coalesce(carts_created, 0) AS carts_created,
       coalesce(carts_converted, 0) AS carts_converted,
       coalesce(carts_abandoned, 0) AS carts_abandoned,
       CASE WHEN carts_created > 0 THEN carts_abandoned / carts_created END AS abandonment_rate,
       CAST(coalesce(abandoned_value, 0) AS DECIMAL(18,2)) AS abandoned_value,
       coalesce(top_products.v, []) AS most_abandoned_products,
       coalesce(by_hour.v, []) AS by_hour,
       coalesce(by_device.v, []) AS by_device,
       coalesce(by_country.v, []) AS by_country,
       coalesce(by_segment.v, []) AS by_segment
FROM days
LEFT JOIN per_day ON per_day.session_date = days.cart_date
LEFT JOIN top_products ON top_products.session_date = days.cart_date
LEFT JOIN {_breakdown("hour(session_start)")} by_hour ON by_hour.session_date = days.cart_date
LEFT JOIN {_breakdown("device")} by_device ON by_device.session_date = days.cart_date
LEFT JOIN {_breakdown("country")} by_country ON by_country.session_date = days.cart_date
LEFT JOIN {_breakdown("segment")} by_segment ON by_segment.session_date = days.cart_date
ORDER BY days.cart_date
"""


def build_cart_abandonment(con: duckdb.DuckDBPyConnection, start: date, end: date, window_ready: bool = False) -> int:
    if not window_ready:  # several session metrics built in one step share one window
        create_window_events(con, start, end)
    return replace_window(con, "cart_abandonment", "cart_date", start, end, CART_ABANDONMENT_SQL, {"start": start, "end": end})


# Counts (views, adds, removes) on the event's day; rates from the sessions started that day
# (a session that viewed, added, bought the product); sales from the order facts on the order day.
PRODUCT_PERFORMANCE_SQL = """
WITH item_events AS (
    SELECT event_date, session_date, session_id, event_name, item.item_id AS product_id, item.item_name AS product_name,
           item.item_category AS category, coalesce(item.quantity, 1) AS quantity
    FROM (SELECT event_date, session_date, session_id, event_name, unnest(items) AS item FROM _window_events
          WHERE NOT is_bot AND event_name IN ('view_item', 'add_to_cart', 'remove_from_cart', 'purchase'))
),
counts AS (
    SELECT event_date AS product_date, product_id, max(product_name) AS product_name, max(category) AS category,
           count(*) FILTER (WHERE event_name = 'view_item') AS views,
           count(*) FILTER (WHERE event_name = 'add_to_cart') AS add_to_carts,
           count(*) FILTER (WHERE event_name = 'remove_from_cart') AS removes
    FROM item_events WHERE event_date >= $start AND event_date < $end AND event_name <> 'purchase'
    GROUP BY ALL
),
session_products AS (
    SELECT session_date AS product_date, product_id,
           count(*) FILTER (WHERE viewed) AS sessions_viewed,
           count(*) FILTER (WHERE viewed AND added) AS sessions_viewed_and_added,
           count(*) FILTER (WHERE added) AS sessions_added,
           count(*) FILTER (WHERE added AND purchased) AS sessions_added_and_purchased
    FROM (SELECT session_date, session_id, product_id,
                 bool_or(event_name = 'view_item') AS viewed, bool_or(event_name = 'add_to_cart') AS added,
                 bool_or(event_name = 'purchase') AS purchased
          FROM item_events WHERE session_date >= $start AND session_date < $end GROUP BY ALL)
    GROUP BY ALL
),
sales AS (
    SELECT order_date AS product_date, product_id, max(product_name) AS product_name, max(category) AS category,
           count(DISTINCT document_id) FILTER (WHERE in_order) AS purchases,
           coalesce(sum(quantity) FILTER (WHERE in_order), 0) AS units,
           sum(gross_amount) AS gross_revenue, sum(credited_amount) AS refunds, sum(net_amount) AS net_revenue
    FROM order_lines
    WHERE order_date >= $start AND order_date < $end AND is_product AND (in_order OR document_type <> 'order')
    GROUP BY ALL
),
combined AS (
    SELECT product_date, product_id, max(product_name) AS product_name, max(category) AS category,
           sum(views) AS views, sum(add_to_carts) AS add_to_carts, sum(removes) AS removes,
           sum(purchases) AS purchases, sum(units) AS units, sum(gross_revenue) AS gross_revenue,
           sum(refunds) AS refunds, sum(net_revenue) AS net_revenue,
           sum(sessions_viewed) AS sessions_viewed, sum(sessions_viewed_and_added) AS sessions_viewed_and_added,
           sum(sessions_added) AS sessions_added, sum(sessions_added_and_purchased) AS sessions_added_and_purchased
    FROM (SELECT * FROM counts UNION ALL BY NAME SELECT * FROM session_products UNION ALL BY NAME SELECT * FROM sales)
    WHERE product_id IS NOT NULL
    GROUP BY product_date, product_id
)
SELECT product_date, product_id, product_name, category,
       CAST(coalesce(views, 0) AS BIGINT) AS views, CAST(coalesce(add_to_carts, 0) AS BIGINT) AS add_to_carts,
       CAST(coalesce(removes, 0) AS BIGINT) AS removes, CAST(coalesce(purchases, 0) AS BIGINT) AS purchases,
       CAST(coalesce(units, 0) AS BIGINT) AS units,
       CAST(coalesce(gross_revenue, 0) AS DECIMAL(18,2)) AS gross_revenue,
       CAST(coalesce(refunds, 0) AS DECIMAL(18,2)) AS refunds,
       CAST(coalesce(net_revenue, 0) AS DECIMAL(18,2)) AS net_revenue,
       CAST(coalesce(sessions_viewed, 0) AS BIGINT) AS sessions_viewed,
       CAST(coalesce(sessions_added, 0) AS BIGINT) AS sessions_added,
       CASE WHEN sessions_viewed > 0 THEN sessions_viewed_and_added / sessions_viewed END AS view_to_cart_rate,
       CASE WHEN sessions_added > 0 THEN sessions_added_and_purchased / sessions_added END AS cart_to_purchase_rate,
       CASE WHEN sessions_added > 0 THEN 1 - sessions_added_and_purchased / sessions_added END AS abandonment_rate
FROM combined
ORDER BY product_date, product_id
"""


def build_product_performance(con: duckdb.DuckDBPyConnection, start: date, end: date, window_ready: bool = False) -> int:
    if not window_ready:  # several session metrics built in one step share one window
        create_window_events(con, start, end)
    return replace_window(
        con, "product_performance", "product_date", start, end, PRODUCT_PERFORMANCE_SQL, {"start": start, "end": end}
    )
