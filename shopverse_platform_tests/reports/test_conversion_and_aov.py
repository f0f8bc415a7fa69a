"""The report's conversion is sessions with a purchase ÷ sessions (the open funnel's purchase step),
and its average order value is net, with the gross one a card of its own."""

from __future__ import annotations

import pandas as pd
import pytest

from shopverse_platform.lib.reports import insights as ins


def test_the_funnel_sentence_counts_purchases_reached_out_of_order():
    # 1,000 sessions; 80 bought through every step, 15 more bought without payment info (old tracker)
    frame = pd.DataFrame({
        "step_number": [1, 2, 3, 4, 5, 6],
        "step": ["session_start", "view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase"],
        "sessions": [1000.0, 600.0, 150.0, 100.0, 90.0, 80.0],
        "open_sessions": [1000.0, 600.0, 160.0, 110.0, 90.0, 95.0],
    })
    insight = ins.funnel_drop(frame)
    assert insight.text.endswith("; 9.5% of sessions end in a purchase")  # 95 / 1000, not 80 / 1000
    assert insight.value == pytest.approx(0.75)  # the drop-off still reads the closed funnel: 600 -> 150


def test_a_funnel_without_checkout_steps_names_none():
    frame = pd.DataFrame({"step_number": [1, 2, 3, 6], "step": ["session_start", "view_item", "add_to_cart", "purchase"],
                          "sessions": [500.0, 300.0, 60.0, 30.0], "open_sessions": [500.0, 300.0, 70.0, 45.0]})
    insight = ins.funnel_drop(frame)
    # 300 -> 60 loses 80 %, 60 -> 30 loses 50 %, 500 -> 300 loses 40 %
    assert insight.text == ("The biggest drop-off is view item → add to cart: 80% of sessions do not continue "
                            "(300 → 60); 9.0% of sessions end in a purchase")


def test_net_and_gross_average_order_value_are_two_labelled_cards():
    cards = {k.key: k for k in ins.kpis({"average_order_value": 28.75, "gross_average_order_value": 1828.0},
                                        {"average_order_value": 25.0, "gross_average_order_value": 25.0})}
    assert cards["average_order_value"].label == "Average order value"
    assert cards["gross_average_order_value"].label == "Average order value (gross)"
    assert cards["average_order_value"].change_text() == "+15%"  # 28.75 against 25, not +7,212 %
    assert cards["gross_average_order_value"].formatted() == "£1,828"


def test_weekly_trend_ticks_name_each_bar_by_its_monday():
    from shopverse_platform.lib.reports import figures

    mondays = pd.to_datetime(["2026-11-02", "2026-11-09", "2026-11-16"])
    fig = figures.trend(pd.DataFrame({"bucket": mondays, "net_revenue": [1.0, 2.0, 3.0], "orders": [1, 2, 3]}), weekly=True)
    ticks = [pd.Timestamp(t) for t in fig.layout.xaxis.tickvals]
    assert ticks == list(mondays) and all(t.weekday() == 0 for t in ticks)
    assert list(fig.layout.xaxis.ticktext) == ["w/c 2 Nov", "w/c 9 Nov", "w/c 16 Nov"]
