"""Metric layer on the hand-written week (see fixture.py): every expected figure is computed by hand
from the fixture's lines, not read from the code's output."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shopverse_platform_tests.metrics import fixture as fx
from shopverse_platform_tests.metrics.conftest import METRIC_TABLES, METRICS

D = Decimal


def test_metric_checks_all_run_and_pass(built):
    evaluations = [
        e for e in built.daily_run.get_asset_check_evaluations() + built.weekly_run.get_asset_check_evaluations()
        if e.asset_key.to_user_string() in METRIC_TABLES
    ]
    declared = {spec.key.name for asset in METRICS for spec in asset.check_specs} | {
        "weekly_kpis_matches_daily", "weekly_kpis_every_kpi_present", "weekly_kpis_rates_in_unit_interval"}
    assert {e.check_name for e in evaluations} == declared
    assert [e.check_name for e in evaluations if not e.passed] == []


def test_order_facts_hold_both_sources_by_the_day_each_document_happened(built):
    docs = {
        r[0]: r[1:]
        for r in built.query(
            "SELECT document_id, source, document_type, order_id, order_date, is_order, is_credit, gross_amount, "
            "credited_amount, net_amount FROM orders"
        )
    }
    assert docs == {
        "T1": ("events", "order", "T1", fx.D1, True, False, D("20.00"), D("0.00"), D("20.00")),
        "T2": ("events", "order", "T2", fx.D1, True, False, D("30.00"), D("0.00"), D("30.00")),
        "T3": ("events", "order", "T3", fx.D2, True, False, D("30.00"), D("0.00"), D("30.00")),  # re-sent once
        "refund-T1": ("events", "refund", "T1", fx.D4, False, True, D("0.00"), D("10.00"), D("-10.00")),
        "536365": ("order_export", "order", "536365", fx.D1, True, False, D("53.64"), D("0.00"), D("53.64")),
        "536366": ("order_export", "order", "536366", fx.D1, True, False, D("11.10"), D("0.00"), D("11.10")),
        "536368": ("order_export", "order", "536368", fx.D1, False, False, D("0.00"), D("0.00"), D("0.00")),
        "C536379": ("order_export", "cancellation", "536365", fx.D2, False, True, D("0.00"), D("5.10"), D("-5.10")),
        "536380": ("order_export", "order", "536380", fx.D2, True, False, D("14.75"), D("0.00"), D("14.75")),
        "536390": ("order_export", "order", "536390", fx.D4, False, False, D("0.00"), D("0.00"), D("0.00")),
    }
    # the fee stays in the fact, kept out of sales; postage is sales but not a product
    assert built.query("SELECT line_type, is_sales, is_product FROM order_lines WHERE product_id IN ('BANK CHARGES', 'POST') ORDER BY 1") == [
        ("fee", False, False), ("postage", True, False)]


SALES_COLUMNS = ["orders", "items", "gross_revenue", "cancellations", "cancelled_revenue", "net_revenue",
                 "unique_customers", "guest_customers", "guest_orders", "guest_revenue", "new_customers",
                 "returning_customers", "unique_products", "peak_hour_by_revenue", "peak_hour_by_orders"]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # T1 20 + T2 30 (guest) + 536365 53.64 + 536366 11.10 (guest); items 2+1+12+6 (postage is no item)
        (fx.D1, [4, 21, D("114.74"), 0, D("0.00"), D("114.74"), 2, 2, 2, D("41.10"), 2, 0, 5, 9, 14]),
        # T3 30 + 536380 14.75 (manual 2.00 is sales, not an item); C536379 cancels 5.10 of D1's invoice today
        (fx.D2, [2, 4, D("44.75"), 1, D("5.10"), D("39.65"), 2, 0, 0, D("0.00"), 1, 1, 2, 9, 9]),
        (fx.D3, [0, 0, D("0.00"), 0, D("0.00"), D("0.00"), 0, 0, 0, D("0.00"), 0, 0, 0, None, None]),
        # the refund of T1 (10.00) nets out on its own day, three days after the sale
        (fx.D4, [0, 0, D("0.00"), 1, D("10.00"), D("-10.00"), 0, 0, 0, D("0.00"), 0, 0, 0, None, None]),
    ],
)
def test_daily_sales_hand_computed(built, day, expected):
    row = built.row("daily_sales", "sales_date = ?", [day])
    assert [row[c] for c in SALES_COLUMNS] == expected


def test_daily_sales_average_order_value_and_countries(built):
    d1 = built.row("daily_sales", "sales_date = ?", [fx.D1])
    assert d1["average_order_value"] == pytest.approx(114.74 / 4)
    assert [(c["country"], c["orders"], c["net_revenue"]) for c in d1["by_country"]] == [
        ("United Kingdom", 2, D("64.74")), ("FR", 1, D("30.00")), ("GB", 1, D("20.00"))]
    d2 = built.row("daily_sales", "sales_date = ?", [fx.D2])
    assert [(c["country"], c["orders"], c["net_revenue"]) for c in d2["by_country"]] == [
        ("GB", 1, D("30.00")), ("France", 1, D("14.75")), ("United Kingdom", 0, D("-5.10"))]
    assert built.row("daily_sales", "sales_date = ?", [fx.D3])["average_order_value"] is None
    # every day of the run has its row, the empty ones included
    assert built.query("SELECT count(*), min(sales_date), max(sales_date) FROM daily_sales") == [(7, fx.D1, fx.WEEK_END)]


TRAFFIC_COLUMNS = ["visitors", "sessions", "events", "page_views", "product_views", "bounced_sessions",
                   "bot_sessions", "bot_events"]


@pytest.mark.parametrize(
    ("day", "expected", "bounce_rate"),
    [
        # sA sB sC sD sE (sD counted on D1 though it ends on D2); the bot apart: 40 events
        (fx.D1, [5, 5, 25, 4, 4, 1, 1, 40], 1 / 5),
        # sG, plus sD's two events after midnight (counted by event day)
        (fx.D2, [1, 1, 9, 1, 1, 0, 0, 0], 0.0),
        (fx.D3, [0, 0, 0, 0, 0, 0, 0, 0], None),
        (fx.D4, [1, 1, 3, 1, 0, 0, 0, 0], 0.0),
    ],
)
def test_daily_traffic_hand_computed(built, day, expected, bounce_rate):
    row = built.row("daily_traffic", "traffic_date = ?", [day])
    assert [row[c] for c in TRAFFIC_COLUMNS] == expected
    assert row["bounce_rate"] == (pytest.approx(bounce_rate) if bounce_rate is not None else None)


def test_daily_traffic_activity_by_hour(built):
    row = built.row("daily_traffic", "traffic_date = ?", [fx.D1])
    busy = {h["hour"]: (h["events"], h["sessions_started"]) for h in row["activity_by_hour"] if h["events"]}
    assert busy == {10: (7, 1), 11: (2, 1), 14: (9, 1), 16: (3, 1), 23: (4, 1)}  # 03:00 is the bot's
    assert len(row["activity_by_hour"]) == 24 and row["peak_hour_by_events"] == 14
    assert row["sessions_per_visitor"] == 1.0


def test_funnel_daily_counts_steps_reached_in_order(built):
    rows = built.query(
        "SELECT funnel, step, sessions, conversion_from_previous, drop_off_rate FROM funnel_daily "
        "WHERE funnel_date = ? ORDER BY funnel DESC, step_number", [fx.D1])
    # view_item: sA sC sD sE; add_to_cart in order: sA sC sD (sE added before viewing);
    # begin_checkout: sA sC and sD after midnight; payment and purchase: sA sC
    assert [(f, s, n) for f, s, n, _, _ in rows] == [
        ("purchase", "session_start", 5), ("purchase", "view_item", 4), ("purchase", "add_to_cart", 3),
        ("purchase", "begin_checkout", 3), ("purchase", "add_payment_info", 2), ("purchase", "purchase", 2),
        ("checkout", "begin_checkout", 3), ("checkout", "add_payment_info", 2), ("checkout", "purchase", 2),
    ]
    conversions = [c for _, _, _, c, _ in rows]
    assert conversions[0] is None and conversions[6] is None  # a first step has no previous step
    assert conversions[1:6] + conversions[7:] == pytest.approx([0.8, 0.75, 1.0, 2 / 3, 1.0, 2 / 3, 1.0])
    assert [d for _, _, _, _, d in rows][1:6] == pytest.approx([0.2, 0.25, 0.0, 1 / 3, 0.0])
    empty = built.query("SELECT sum(sessions), count(*) FROM funnel_daily WHERE funnel_date = ?", [fx.D3])
    assert empty == [(0, 9)]


def test_cart_abandonment_hand_computed(built):
    row = built.row("cart_abandonment", "cart_date = ?", [fx.D1])
    # carts: sA and sC bought; sD (P3, 20.00) and sE (P2, 30.00) abandoned; sC's removed P3 is no value
    assert (row["carts_created"], row["carts_converted"], row["carts_abandoned"]) == (4, 2, 2)
    assert row["abandonment_rate"] == 0.5 and row["abandoned_value"] == D("50.00")
    assert [(p["product_id"], p["carts"], p["units"], p["value"]) for p in row["most_abandoned_products"]] == [
        ("P2", 1, 1, D("30.00")), ("P3", 1, 1, D("20.00"))]
    breakdown = lambda col: {b["key"]: (b["carts"], b["abandoned"]) for b in row[col]}  # noqa: E731
    assert breakdown("by_device") == {"desktop": (2, 1), "mobile": (1, 0), "tablet": (1, 1)}
    assert breakdown("by_country") == {"DE": (1, 1), "FR": (1, 0), "GB": (2, 1)}
    assert breakdown("by_hour") == {"10": (1, 0), "14": (1, 0), "16": (1, 1), "23": (1, 1)}
    assert breakdown("by_segment") == {"anonymous": (1, 0), "new": (3, 2)}
    d2 = built.row("cart_abandonment", "cart_date = ?", [fx.D2])
    assert (d2["carts_created"], d2["abandonment_rate"]) == (1, 0.0)
    assert {b["key"] for b in d2["by_segment"]} == {"returning"}  # u1 bought on D1
    assert built.row("cart_abandonment", "cart_date = ?", [fx.D4])["abandonment_rate"] is None


def test_product_performance_hand_computed(built):
    rows = {
        r[0]: r[1:]
        for r in built.query(
            "SELECT product_id, views, add_to_carts, removes, purchases, units, gross_revenue, refunds, "
            "view_to_cart_rate, cart_to_purchase_rate, abandonment_rate FROM product_performance WHERE product_date = ?",
            [fx.D1],
        )
    }
    assert rows == {
        "P1": (1, 1, 0, 1, 2, D("20.00"), D("0.00"), 1.0, 1.0, 0.0),  # the bot's 19 views left out
        "P2": (2, 2, 0, 1, 1, D("30.00"), D("0.00"), 1.0, 0.5, 0.5),
        # sC added and removed P3, then bought (a converted cart); sD left it in an abandoned cart: 1 of 2
        "P3": (1, 2, 1, 0, 0, D("0.00"), D("0.00"), 1.0, 0.0, 0.5),
        "85123A": (0, 0, 0, 1, 6, D("15.30"), D("0.00"), None, None, None),
        "71053": (0, 0, 0, 1, 6, D("20.34"), D("0.00"), None, None, None),
        "22633": (0, 0, 0, 1, 6, D("11.10"), D("0.00"), None, None, None),
    }
    refunds = built.query("SELECT product_date, product_id, refunds, net_revenue FROM product_performance WHERE refunds > 0 ORDER BY 1")
    assert refunds == [(fx.D2, "85123A", D("5.10"), D("-5.10")), (fx.D4, "P1", D("10.00"), D("-10.00"))]


def test_customer_metrics_identified_customers_only(built):
    rows = {
        r[0]: r[1:]
        for r in built.query(
            "SELECT customer_id, orders, cancellations, items, gross_revenue, cancelled_revenue, net_revenue, "
            "first_order_date, last_order_date, tenure_days, recency_days, historical_ltv FROM customer_metrics"
        )
    }
    # as of D4, the last day with an order document; guests (T2, 536366) are nobody's history
    assert rows == {
        "u1": (2, 1, 3, D("50.00"), D("10.00"), D("40.00"), fx.D1, fx.D2, 1, 2, D("40.00")),
        "17850": (1, 1, 12, D("53.64"), D("5.10"), D("48.54"), fx.D1, fx.D1, 0, 3, D("48.54")),
        "13047": (1, 0, 3, D("14.75"), D("0.00"), D("14.75"), fx.D2, fx.D2, 0, 2, D("14.75")),
    }
    u1 = built.row("customer_metrics", "customer_id = 'u1'")
    assert (u1["average_order_value"], u1["age_group"], u1["acquisition_channel"], u1["sources"]) == (25.0, "25-34", "organic", "events")


def test_seasonality_names_the_peak_slots(built):
    peaks = built.query("SELECT grain, slot, is_peak_events, is_peak_revenue FROM seasonality WHERE is_peak_events OR is_peak_revenue ORDER BY 1, 2")
    # events (bot left out): Mon 14h has sC's 9; revenue: Mon 09h has invoice 536365 (53.64)
    assert peaks == [("hour_of_week", "Mon 09:00-10:00 UTC", False, True), ("hour_of_week", "Mon 14:00-15:00 UTC", True, False),
                     ("month", "Mar", True, True)]
    assert built.query("SELECT sum(events), sum(net_revenue) FROM seasonality WHERE grain = 'hour_of_week'") == [(37, D("144.39"))]


def test_anomalies_flag_the_bot_with_method_score_and_threshold(built):
    rows = built.query("SELECT anomaly_type, entity_id, method, observed, score, threshold, severity FROM anomalies")
    # 40 events in 39 s: 40 a minute (a session under a minute counts as one minute)
    assert rows == [("bot", "sBot", "events_per_minute", 40.0, 40.0, 30.0, "medium")]


def test_sessions_carry_the_same_bot_rule_as_the_metrics(built):
    # sBot: 40 events in 39 s; every human session of the week is far below 30 a minute
    rows = built.query("SELECT session_id, events_per_minute FROM sessions WHERE is_bot")
    assert rows == [("sBot", 40.0)]
    assert built.query("SELECT count(*) FROM sessions WHERE NOT is_bot AND events_per_minute >= 30")[0][0] == 0


def test_weekly_kpis_hand_computed(built):
    kpis = {k: (v, p) for k, v, p in built.query("SELECT kpi, value, previous_value FROM weekly_kpis WHERE week_start = ?", [fx.D1])}
    expected = {
        "orders": 6, "items": 25, "gross_revenue": 159.49, "cancelled_revenue": 15.10, "net_revenue": 144.39,
        "average_order_value": 159.49 / 6, "unique_customers": 3, "new_customers": 3, "guest_orders": 2,
        "visitors": 5, "sessions": 7, "page_views": 6, "bounce_rate": 1 / 7, "conversion_rate": 3 / 7,
        "cart_abandonment_rate": 2 / 5,
    }
    assert {k: v for k, (v, _) in kpis.items()} == pytest.approx(expected)
    assert all(p is None for _, p in kpis.values())  # the week before was never built: no fake zero
