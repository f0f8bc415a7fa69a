"""A tiny warehouse of metric tables whose report answers are known by hand.

Week under test: Monday 2026-11-09 to Sunday 2026-11-15; the week before: 2026-11-02 to 11-08.
Only the columns the reports read are created.

- Net revenue: 1,000 the week before, 880 this week (−12 %); orders 20 and 22; gross 990 -> gross AOV 45.
  Sunday's 4 orders include one of 60 cancelled the same day: AOV (net, orders not fully cancelled)
  = (6 × 140 + 90) / (18 + 3) = 930 / 21.
- Wednesday 11 November: 130 against 120 on Tuesday (+8.3 % day over day).
- Sessions started this week: 168 hourly slots, 5 each, except Wednesday 14:00 (91) and
  Friday 09:00 (79): 1,000 in all, the peak holds 9.1 %.
- Funnel (Tuesday): 1000, 600, 150, 100, 90, 80: the worst step is view item -> add to cart (75 %).
- Carts (Thursday): 200 created, 128 abandoned (64 %).
- Products: A 200 + 100 = 300 net, added to 6 + 4 = 10 carts, 5 + 4 = 9 abandoned (90 %);
  B 100 net, 3 carts all abandoned; C -50 net (refunds), 50 carts, 60 % abandoned.
  A holds 300 / 400 = 75 % of the positive product revenue.
- Anomalies: two this week (the strongest a revenue drop, score -12.5), one the week before.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

WEEK = date(2026, 11, 9)
PREVIOUS_WEEK_NET = [100, 150, 150, 150, 150, 150, 150]  # 1,000
WEEK_NET = [100, 120, 130, 140, 150, 120, 120]  # 880
WEEK_ORDERS = [3, 3, 3, 3, 3, 3, 4]  # 22
WEEK_GROSS = [140, 140, 140, 140, 140, 140, 150]  # 990


def _day(offset: int) -> date:
    return WEEK + timedelta(days=offset)


def build_sales(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE daily_sales (sales_date DATE, orders BIGINT, gross_revenue DECIMAL(18,2), "
                "net_revenue DECIMAL(18,2), new_customers BIGINT, aov_orders BIGINT, aov_net_revenue DECIMAL(18,2))")
    for i, net in enumerate(PREVIOUS_WEEK_NET):
        orders = 3 if i < 6 else 2
        con.execute("INSERT INTO daily_sales VALUES (?, ?, ?, ?, ?, ?, ?)", [_day(i - 7), orders, net + 10, net, 1, orders, net + 10])
    for i, net in enumerate(WEEK_NET):
        kept_orders, kept = (WEEK_ORDERS[i], WEEK_GROSS[i]) if i < 6 else (WEEK_ORDERS[i] - 1, WEEK_GROSS[i] - 60)
        con.execute("INSERT INTO daily_sales VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [_day(i), WEEK_ORDERS[i], WEEK_GROSS[i], net, 1, kept_orders, kept])


def build_all(con: duckdb.DuckDBPyConnection) -> None:
    build_sales(con)
    con.execute("CREATE TABLE daily_traffic (traffic_date DATE, sessions BIGINT, bounced_sessions BIGINT, "
                "activity_by_hour STRUCT(hour INTEGER, sessions_started BIGINT)[])")
    for i in range(-7, 7):
        hours = []
        for hour in range(24):
            started = 5
            if i == 2 and hour == 14:
                started = 91
            if i == 4 and hour == 9:
                started = 79
            hours.append({"hour": hour, "sessions_started": started})
        con.execute("INSERT INTO daily_traffic VALUES (?, 140, 14, ?)", [_day(i), hours])

    con.execute("CREATE TABLE funnel_daily (funnel_date DATE, funnel VARCHAR, step_number INTEGER, step VARCHAR, "
                "sessions BIGINT, open_sessions BIGINT)")
    steps = ["session_start", "view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase"]
    for number, (step, sessions) in enumerate(zip(steps, [1000, 600, 150, 100, 90, 80]), start=1):
        # every session went in order here: the open funnel equals the closed one
        con.execute("INSERT INTO funnel_daily VALUES (?, 'purchase', ?, ?, ?, ?)", [_day(1), number, step, sessions, sessions])
    con.execute("INSERT INTO funnel_daily VALUES (?, 'checkout', 1, 'begin_checkout', 100, 100)", [_day(1)])

    con.execute("CREATE TABLE cart_abandonment (cart_date DATE, carts_created BIGINT, carts_abandoned BIGINT, "
                "abandoned_value DECIMAL(18,2), by_device STRUCT(key VARCHAR, carts BIGINT, abandoned BIGINT)[])")
    con.execute("INSERT INTO cart_abandonment VALUES (?, 200, 128, 3456.78, ?)",
                [_day(3), [{"key": "mobile", "carts": 120, "abandoned": 80}, {"key": "desktop", "carts": 80, "abandoned": 48}]])

    con.execute("CREATE TABLE product_performance (product_date DATE, product_id VARCHAR, product_name VARCHAR, "
                "net_revenue DECIMAL(18,2), units BIGINT, purchases BIGINT, sessions_added BIGINT, abandonment_rate DOUBLE)")
    for row in [
        (_day(1), "a", "A", 200, 4, 2, 6, 5 / 6),
        (_day(2), "a", "A", 100, 2, 1, 4, 1.0),
        (_day(3), "b", "B", 100, 1, 1, 3, 1.0),
        (_day(4), "c", "C", -50, 0, 0, 50, 0.6),
        (_day(-3), "c", "C", 999, 9, 9, 1, 0.0),  # the week before: not counted
    ]:
        con.execute("INSERT INTO product_performance VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(row))

    con.execute("CREATE TABLE anomalies (anomaly_type VARCHAR, anomaly_date DATE, anomaly_ts TIMESTAMP, entity_type VARCHAR, "
                "entity_id VARCHAR, observed DOUBLE, expected DOUBLE, score DOUBLE, threshold DOUBLE, severity VARCHAR, method VARCHAR, "
                "detail VARCHAR)")
    for row in [
        ("traffic_spike", _day(2), "hour", "2026-11-11 14:00", 91, 5, 9.4, 5, "high"),
        ("revenue_drop", _day(5), "day", "2026-11-14", 300, 900, -12.5, 4, "high"),
        ("unusual_order", _day(-2), "order", "ORD-1", 5000, 50, 20.0, 5, "high"),
    ]:
        kind, day, entity_type, entity, observed, expected, score, threshold, severity = row
        con.execute("INSERT INTO anomalies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'test', NULL)",
                    [kind, day, day, entity_type, entity, observed, expected, score, threshold, severity])
