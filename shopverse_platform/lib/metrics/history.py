"""Whole-history tables: ``customer_metrics`` and ``seasonality``. Rebuilt whole on every run.

Customers are identified customers only: guest orders have no one to attach history to.
Seasonality slots are UTC and leave bot sessions out; revenue there is what orders billed (gross: when customers buy), the net
revenue column nets credits in the slot they happened. Recency is measured at ``as_of_date`` = the last day with any order document in the warehouse, so
a rebuild on the same data gives the same figures whatever day it runs.
"""

from __future__ import annotations

import duckdb

from shopverse_platform.lib.metrics.sources import session_stats
from shopverse_platform.lib.warehouse.shapes import relation
from shopverse_platform.lib.warehouse.tables import replace_table, table_exists

EMPTY_DIM_CUSTOMERS = """SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS age_group, NULL::VARCHAR AS country,
    NULL::DATE AS signup_date, NULL::VARCHAR AS acquisition_channel WHERE false"""

CUSTOMER_METRICS_SQL = """
WITH as_of AS (SELECT max(order_date) AS as_of_date FROM orders),
per_customer AS (
    SELECT customer_id,
           min(order_ts) FILTER (WHERE is_order) AS first_order_ts,
           max(order_ts) FILTER (WHERE is_order) AS last_order_ts,
           count(*) FILTER (WHERE is_order) AS orders,
           count(*) FILTER (WHERE is_credit) AS cancellations,
           CAST(sum(units) FILTER (WHERE is_order) AS BIGINT) AS items,
           sum(gross_amount) AS gross_revenue, sum(credited_amount) AS cancelled_revenue, sum(net_amount) AS net_revenue,
           string_agg(DISTINCT source, '+' ORDER BY source) AS sources,
           mode(country) FILTER (WHERE is_order) AS order_country
    FROM orders WHERE customer_id IS NOT NULL AND (is_order OR is_credit)
    GROUP BY customer_id
)
SELECT c.customer_id, c.sources,
       CAST(c.first_order_ts AS DATE) AS first_order_date, CAST(c.last_order_ts AS DATE) AS last_order_date,
       c.orders, c.cancellations, coalesce(c.items, 0) AS items,
       CAST(coalesce(c.gross_revenue, 0) AS DECIMAL(18,2)) AS gross_revenue,
       CAST(coalesce(c.cancelled_revenue, 0) AS DECIMAL(18,2)) AS cancelled_revenue,
       CAST(coalesce(c.net_revenue, 0) AS DECIMAL(18,2)) AS net_revenue,
       CASE WHEN c.orders > 0 THEN CAST(c.gross_revenue AS DOUBLE) / c.orders END AS average_order_value,
       CASE WHEN c.orders > 0 THEN CAST(c.net_revenue AS DOUBLE) / c.orders END AS average_net_order_value,
       date_diff('day', CAST(c.first_order_ts AS DATE), CAST(c.last_order_ts AS DATE)) AS tenure_days,
       date_diff('day', CAST(c.last_order_ts AS DATE), a.as_of_date) AS recency_days,
       CAST(coalesce(c.net_revenue, 0) AS DECIMAL(18,2)) AS historical_ltv,
       a.as_of_date,
       d.age_group, coalesce(d.country, c.order_country) AS country, d.signup_date, d.acquisition_channel
FROM per_customer c CROSS JOIN as_of a
LEFT JOIN {dim_customers} d USING (customer_id)
ORDER BY c.customer_id
"""


def build_customer_metrics(con: duckdb.DuckDBPyConnection) -> int:
    dim = "dim_customers" if table_exists(con, "dim_customers") else f"({EMPTY_DIM_CUSTOMERS})"
    return replace_table(con, table="customer_metrics", select_sql=CUSTOMER_METRICS_SQL.format(dim_customers=dim))


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _label_sql(list_values: tuple[str, ...], index: str) -> str:
    return "[" + ", ".join(f"'{v}'" for v in list_values) + f"][{index} + 1]"


SEASONALITY_SQL = """
WITH bots AS (SELECT session_id FROM {sessions} WHERE is_bot),  -- scripted sessions are not shoppers
ev AS (SELECT e.event_ts AS ts FROM {events} e ANTI JOIN bots USING (session_id)),
sales AS (SELECT order_ts AS ts, gross_amount, net_amount, is_order FROM orders WHERE is_order OR is_credit),
span AS (
    SELECT CAST(min(ts) AS DATE) AS first_day, CAST(max(ts) AS DATE) AS last_day
    FROM (SELECT ts FROM ev UNION ALL SELECT ts FROM sales)
),
calendar AS (
    SELECT CAST(range AS DATE) AS day FROM span, range(CAST(first_day AS TIMESTAMP), CAST(last_day AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY)
),
slots AS (
    SELECT 'hour_of_week' AS grain, CAST(isodow(day) - 1 AS INTEGER) AS weekday, CAST(h.range AS INTEGER) AS hour,
           NULL::INTEGER AS month, count(*) AS days_observed
    FROM calendar CROSS JOIN range(24) h GROUP BY ALL
    UNION ALL
    SELECT 'month', NULL, NULL, CAST(month(day) AS INTEGER), count(*) FROM calendar GROUP BY ALL
),
facts AS (
    SELECT ts, 1 AS events, 0 AS orders, 0 AS gross_amount, 0 AS net_amount FROM ev
    UNION ALL
    SELECT ts, 0, CASE WHEN is_order THEN 1 ELSE 0 END, gross_amount, net_amount FROM sales
),
measured AS (
    SELECT 'hour_of_week' AS grain, CAST(isodow(ts) - 1 AS INTEGER) AS weekday, CAST(hour(ts) AS INTEGER) AS hour,
           NULL::INTEGER AS month, sum(events) AS events, sum(orders) AS orders, sum(gross_amount) AS gross_revenue,
           sum(net_amount) AS net_revenue
    FROM facts GROUP BY ALL
    UNION ALL
    SELECT 'month', NULL, NULL, CAST(month(ts) AS INTEGER), sum(events), sum(orders), sum(gross_amount), sum(net_amount)
    FROM facts GROUP BY ALL
),
joined AS (
    SELECT s.grain, s.weekday, s.hour, s.month, s.days_observed,
           CAST(coalesce(m.events, 0) AS BIGINT) AS events, CAST(coalesce(m.orders, 0) AS BIGINT) AS orders,
           CAST(coalesce(m.gross_revenue, 0) AS DECIMAL(18,2)) AS gross_revenue,
           CAST(coalesce(m.net_revenue, 0) AS DECIMAL(18,2)) AS net_revenue
    FROM slots s LEFT JOIN measured m
      ON m.grain = s.grain AND m.weekday IS NOT DISTINCT FROM s.weekday AND m.hour IS NOT DISTINCT FROM s.hour
     AND m.month IS NOT DISTINCT FROM s.month
),
rated AS (
    SELECT *,
           CASE WHEN grain = 'month' THEN {month_label}
                ELSE {weekday_label} || ' ' || lpad(CAST(hour AS VARCHAR), 2, '0') || ':00-'
                     || lpad(CAST(hour + 1 AS VARCHAR), 2, '0') || ':00 UTC' END AS slot,
           events / days_observed AS events_per_day,
           CAST(gross_revenue AS DOUBLE) / days_observed AS gross_revenue_per_day,
           events / nullif(sum(events) OVER (PARTITION BY grain), 0) AS share_of_events,
           CAST(gross_revenue AS DOUBLE) / nullif(sum(gross_revenue) OVER (PARTITION BY grain), 0) AS share_of_revenue
    FROM joined
)
SELECT grain, slot, weekday, hour, month, days_observed, events, orders, gross_revenue, net_revenue,
       events_per_day, gross_revenue_per_day, share_of_events, share_of_revenue,
       events > 0 AND row_number() OVER (PARTITION BY grain ORDER BY events_per_day DESC, weekday, hour, month) = 1
           AS is_peak_events,
       gross_revenue > 0 AND row_number() OVER (PARTITION BY grain ORDER BY gross_revenue_per_day DESC, weekday, hour, month) = 1
           AS is_peak_revenue
FROM rated
ORDER BY grain, weekday, hour, month
"""


def build_seasonality(con: duckdb.DuckDBPyConnection) -> int:
    sql = SEASONALITY_SQL.format(
        events=relation(con, "clean_events"),
        sessions=session_stats(con),
        month_label=_label_sql(MONTHS, "month - 1"),
        weekday_label=_label_sql(WEEKDAYS, "weekday"),
    )
    return replace_table(con, table="seasonality", select_sql=sql)


def peak_slots(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """The named peak slots, for the asset's metadata and reports."""
    found = dict.fromkeys(["hour_of_week_by_events", "hour_of_week_by_revenue", "month_by_events", "month_by_revenue"])
    for grain, slot, by_events, by_revenue in con.execute(
        "SELECT grain, slot, is_peak_events, is_peak_revenue FROM seasonality WHERE is_peak_events OR is_peak_revenue"
    ).fetchall():
        if by_events:
            found[f"{grain}_by_events"] = slot
        if by_revenue:
            found[f"{grain}_by_revenue"] = slot
    return found
