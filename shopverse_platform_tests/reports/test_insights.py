"""Insights and KPI cards on hand-made frames whose answers are worked out in the comments."""

from __future__ import annotations

import pandas as pd
import pytest

from shopverse_platform.lib.reports import insights as ins

M = "\u2212"


@pytest.mark.parametrize(
    ("fraction", "text"),
    [(-0.12, f"{M}12%"), (0.034, "+3.4%"), (0.0, "0.0%"), (1.5, "+150%"), (-0.0999, f"{M}10.0%")],
)
def test_signed_percent(fraction, text):
    assert ins.signed_percent(fraction) == text


def test_revenue_change_week_over_week():
    # (880 - 1000) / 1000 = -12 %
    insight = ins.revenue_change(880.0, 1000.0, "weekly")
    assert insight.value == pytest.approx(-0.12)
    assert insight.text == f"Revenue {M}12% week over week (£880.00 against £1,000)"
    assert insight.section == "trend"
    assert ins.revenue_change(880.0, 0.0, "weekly") is None  # no base to compare with
    assert ins.revenue_change(None, 10.0, "daily") is None
    assert "day over day" in ins.revenue_change(110.0, 100.0, "daily").text


def test_peak_activity_share_and_slot():
    # 168 slots of 5 sessions, except Wednesday 14:00 (91) and Friday 09:00 (79):
    rows = [{"weekday": d, "hour": h, "sessions": 5.0} for d in range(7) for h in range(24)]
    frame = pd.DataFrame(rows)
    frame.loc[(frame.weekday == 2) & (frame.hour == 14), "sessions"] = 91.0
    frame.loc[(frame.weekday == 4) & (frame.hour == 9), "sessions"] = 79.0
    # 166 slots x 5 = 830, + 91 + 79 = 1000 sessions; 91 / 1000 = 9.1 %
    assert frame.sessions.sum() == 1000
    insight = ins.peak_activity(frame)
    assert insight.text == "Peak activity is Wednesday 14:00–15:00 (9.1% of sessions)"
    assert insight.value == pytest.approx(0.091)


def test_peak_activity_tie_takes_the_earliest_slot_and_empty_is_none():
    frame = pd.DataFrame({"weekday": [3, 3, 1], "hour": [20, 8, 23], "sessions": [4.0, 4.0, 2.0]})
    assert ins.peak_activity(frame).text == "Peak activity is Thursday 08:00–09:00 (40.0% of sessions)"
    assert ins.peak_activity(frame.assign(sessions=0.0)) is None
    assert ins.peak_activity(None) is None


def test_funnel_drop_finds_the_leakiest_step():
    # drops: 1 - 600/1000 = 40 %, 1 - 150/600 = 75 %, 1 - 100/150 = 33 %, 1 - 90/100 = 10 %, 1 - 80/90 = 11 %
    frame = pd.DataFrame({
        "step_number": [1, 2, 3, 4, 5, 6],
        "step": ["session_start", "view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase"],
        "sessions": [1000.0, 600.0, 150.0, 100.0, 90.0, 80.0],
    })
    insight = ins.funnel_drop(frame)
    assert insight.value == pytest.approx(0.75)
    assert insight.text == ("The biggest drop-off is view item → add to cart: 75% of sessions do not continue "
                            "(600 → 150); 8.0% of sessions end in a purchase")


def test_cart_abandonment_highest_for_the_worst_product_with_enough_carts():
    # 128 / 200 = 64 %. B has the worst rate (100 %) but only 3 carts (< 5), so A (90 % of 10) wins.
    products = pd.DataFrame({
        "product_name": ["A", "B", "C"], "sessions_added": [10.0, 3.0, 50.0], "abandonment_rate": [0.9, 1.0, 0.6],
    })
    insight = ins.cart_abandonment(200.0, 128.0, products)
    assert insight.text == "Cart abandonment is 64%, highest for A (90% of 10 carts)"
    assert insight.value == pytest.approx(0.64)
    # no product reaches 5 carts: the worst of all is named
    assert "highest for B (100% of 3 carts)" in ins.cart_abandonment(200.0, 128.0, products, min_carts=100).text
    assert ins.cart_abandonment(0.0, 0.0, products) is None
    assert ins.cart_abandonment(4.0, 1.0, None).text == "Cart abandonment is 25% (1 of 4 carts)"


def test_top_product_share_ignores_refund_heavy_products():
    # positive revenue 300 + 100 = 400; A has 300 / 400 = 75 %
    products = pd.DataFrame({"product_name": ["B", "A", "C"], "net_revenue": [100.0, 300.0, -50.0]})
    insight = ins.top_product(products)
    assert insight.text == "A led product revenue with £300.00 (75% of product revenue)"
    assert insight.value == pytest.approx(0.75)


def test_anomaly_summary_counts_and_names_the_strongest():
    frame = pd.DataFrame({
        "anomaly_type": ["traffic_spike", "revenue_drop", "bot"],
        "entity_id": ["2026-11-18 14:00", "2026-11-19", "s-1"],
        "observed": [412.0, 300.0, 120.0], "expected": [130.0, 900.0, None], "threshold": [5.0, 4.0, 30.0],
        "score": [9.4, -12.5, 8.0], "severity": ["high", "high", "medium"],
    })
    insight = ins.anomaly_summary(frame, "this week")
    assert insight.value == 3
    assert insight.text == ("3 anomalies this week (2 high); the strongest: revenue drop 2026-11-19: £300.00 against "
                            "£900.00 expected (the median of the same weekday); threshold robust z-score ≤ −4.0, "
                            "scored −12.5")
    assert ins.anomaly_summary(frame.iloc[0:0], "this week").text == "No anomalies detected this week"
    assert ins.anomaly_summary(None, "this week") is None


def test_each_anomaly_reads_with_its_unit_baseline_threshold_and_cancellation():
    def row(**values):
        return pd.Series({"detail": None, **values})

    order = row(anomaly_type="unusual_order", entity_id="581483", observed=168469.6, expected=13.5, score=33.1,
                threshold=5.0, detail='{"shop_p99": 5090.0, "cancelled_share": 1.0}')
    assert ins.describe_anomaly(order) == (
        "unusual order 581483: £168,470 against £13.50 expected (the shop's median order); "
        "threshold 5.0× the shop's 99th-percentile order, scored 33.1, cancelled later")
    half = row(anomaly_type="unusual_order", entity_id="9", observed=6000.0, expected=20.0, score=6.0, threshold=5.0,
               detail='{"cancelled_share": 0.5}')
    assert ins.describe_anomaly(half).endswith("scored 6.0, 50% of it cancelled later")
    bot = row(anomaly_type="bot", entity_id="s-1", observed=115.5, expected=2.25, score=115.5, threshold=30.0)
    assert ins.describe_anomaly(bot) == ("bot session s-1: 115.5 events per minute against 2.2 events per minute "
                                         "expected (the median of busy human sessions); threshold 30 events per minute, "
                                         "scored 115.5")
    spike = row(anomaly_type="traffic_spike", entity_id="2026-11-18 14:00", observed=412.0, expected=130.0, score=9.4,
                threshold=5.0)
    assert ins.describe_anomaly(spike) == (
        "traffic spike 2026-11-18 14:00: 412 sessions against 130 sessions expected (the median of the same hour on "
        "the same weekday); threshold robust z-score ≥ 5.0, scored 9.4")


def test_segment_movement_prefers_moves_between_existing_segments():
    frame = pd.DataFrame({
        "segmentation": ["rfm_segment", "rfm_segment", "value_tier"],
        "from_segment": ["(new)", "Loyal Customers", "Low"],
        "to_segment": ["New Customers", "At Risk", "Medium"],
        "customers": [90.0, 42.0, 17.0],
    })
    insight = ins.segment_movement(frame)
    assert insight.text == "42 customers moved from Loyal Customers to At Risk (rfm segment)"
    visitors = pd.DataFrame({"segmentation": ["intent_segment"], "from_segment": ["medium"], "to_segment": ["high"],
                             "customers": [49.0]})
    assert ins.segment_movement(visitors).text == "49 visitors moved from medium to high (intent segment)"


def test_champion_models_one_line_per_model():
    frame = pd.DataFrame({
        "model": ["churn", "churn", "clv"], "version": ["3", "2", "1"], "metric": ["roc_auc", "roc_auc", "mae"],
        "value": [0.812, 0.79, 14.2], "is_champion": [True, False, False],
    })
    assert [i.text for i in ins.champion_models(frame)] == ["Champion churn model: version 3 (roc_auc 0.812)"]


def test_kpi_changes_relative_for_amounts_points_for_rates():
    cards = {k.key: k for k in ins.kpis(
        {"net_revenue": 880.0, "cart_abandonment_rate": 0.64, "orders": 10.0},
        {"net_revenue": 1000.0, "cart_abandonment_rate": 0.60, "orders": 0.0},
    )}
    assert cards["net_revenue"].change == pytest.approx(-0.12)
    assert cards["net_revenue"].change_text() == f"{M}12%"
    assert cards["net_revenue"].improved is False
    assert cards["cart_abandonment_rate"].change == pytest.approx(0.04)  # 64 % - 60 % = 4 points
    assert cards["cart_abandonment_rate"].change_text() == "+4.0 pp"
    assert cards["cart_abandonment_rate"].improved is False  # more abandonment is worse
    assert cards["orders"].change is None and cards["orders"].change_text() == "no comparison"
    assert cards["net_revenue"].formatted() == "£880.00" and cards["cart_abandonment_rate"].formatted() == "64.0%"
