"""Average order value and the peak hour by revenue on a day when one huge order was cancelled 12
minutes after it was placed: figures by hand from the invoices below."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest

from shopverse_platform.lib.metrics.facts import build_order_lines, build_orders
from shopverse_platform.lib.metrics.history import build_seasonality
from shopverse_platform.lib.metrics.sales import build_daily_sales
from shopverse_platform.lib.reports import data as report_data
from shopverse_platform.lib.warehouse.shapes import EMPTY_CLEAN_ORDER_LINES

DAY = date(2024, 5, 6)
NEXT = DAY + timedelta(days=1)

# (invoice, day, hour:minute, customer, quantity, unit price, cancels)
INVOICES = [
    ("100", DAY, (9, 0), "A", 2, 10.00, None),  # 20.00
    ("101", DAY, (10, 0), "B", 1, 30.00, None),  # 30.00
    ("104", DAY, (11, 0), "D", 1, 40.00, None),  # 40.00, cancelled the next day
    ("102", DAY, (14, 0), "C", 1, 9000.00, None),  # the huge order ...
    ("C102", DAY, (14, 12), "C", -1, 9000.00, "102"),  # ... cancelled 12 minutes later
    ("103", DAY, (15, 0), "A", 2, 25.00, None),  # 50.00 ...
    ("C103", DAY, (16, 0), "A", -1, 25.00, "103"),  # ... half of it cancelled the same day: 25.00 kept
    ("C104", NEXT, (9, 0), "D", -1, 40.00, "104"),
]


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE clean_order_lines AS {EMPTY_CLEAN_ORDER_LINES}")
    for n, (invoice, day, (hour, minute), customer, quantity, price, cancels) in enumerate(INVOICES):
        con.execute(
            "INSERT INTO clean_order_lines VALUES (?, ?, ?, 'SKU', 'Thing', ?, ?, ?, ?, false, 'United Kingdom', "
            "'product', ?, ?, 'export.csv', ?)",
            [invoice, datetime(day.year, day.month, day.day, hour, minute), day, quantity, price, quantity * price,
             customer, cancels is not None, cancels, n + 1])
    start, end = DAY, NEXT + timedelta(days=1)
    build_order_lines(con, start, end)
    build_orders(con, start, end)
    build_daily_sales(con, start, end)
    return con


def test_a_huge_order_cancelled_the_same_day_leaves_the_average_order_value(con):
    row = con.execute("SELECT orders, gross_revenue, cancelled_revenue, average_order_value, gross_average_order_value, "
                      "aov_orders, aov_net_revenue, peak_hour_by_revenue, peak_hour_by_orders "
                      "FROM daily_sales WHERE sales_date = ?", [DAY]).fetchone()
    orders, gross, cancelled, aov, gross_aov, aov_orders, aov_net, peak_revenue, peak_orders = row
    assert (orders, float(gross), float(cancelled)) == (5, 9140.0, 9025.0)
    # kept: 100 (20), 101 (30), 104 (40: its cancellation comes the next day), 103 (50 - 25); 102 fully cancelled
    assert (aov_orders, float(aov_net)) == (4, 115.0)
    assert aov == pytest.approx(115 / 4)
    assert gross_aov == pytest.approx(9140 / 5)  # the old figure, now labelled gross
    # by net revenue 11:00 (40.00) leads; 14:00 (the cancelled 9,000) would lead by gross
    assert (peak_revenue, peak_orders) == (11, 9)


def test_the_next_days_cancellation_stays_on_its_own_day(con):
    row = con.execute("SELECT orders, cancelled_revenue, average_order_value, aov_orders, peak_hour_by_revenue "
                      "FROM daily_sales WHERE sales_date = ?", [NEXT]).fetchone()
    assert (row[0], float(row[1]), row[2], row[3], row[4]) == (0, 40.0, None, 0, None)


def test_the_report_shows_net_and_gross_average_order_value(con):
    totals = report_data.load(con, report_data.Period.day(DAY)).totals
    assert totals["average_order_value"] == pytest.approx(28.75)
    assert totals["gross_average_order_value"] == pytest.approx(1828.0)


def test_the_seasonal_peak_by_revenue_is_what_orders_kept(con):
    build_seasonality(con)
    peaks = con.execute("SELECT slot, CAST(gross_revenue AS DOUBLE) FROM seasonality "
                        "WHERE grain = 'hour_of_week' AND is_peak_revenue").fetchall()
    # kept after every credit, in the order's slot: 09h 20, 10h 30, 11h 0 (104 cancelled the next
    # day), 14h 0 (the 9,000 order), 15h 25; gross would make Monday 14:00 the peak
    assert peaks == [("Mon 10:00-11:00 UTC", 30.0)]


def test_a_day_of_only_cancelled_orders_has_no_average_and_no_revenue_peak():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE clean_order_lines AS {EMPTY_CLEAN_ORDER_LINES}")
    for n, (invoice, quantity, cancels) in enumerate([("200", 1, None), ("C200", -1, "200")]):
        con.execute(
            "INSERT INTO clean_order_lines VALUES (?, ?, ?, 'SKU', 'Thing', ?, 500, ?, 'E', false, 'France', "
            "'product', ?, ?, 'export.csv', ?)",
            [invoice, datetime(2024, 5, 6, 13, n), DAY, quantity, quantity * 500, cancels is not None, cancels, n + 1])
    for build in (build_order_lines, build_orders, build_daily_sales):
        build(con, DAY, NEXT)
    row = con.execute("SELECT orders, average_order_value, gross_average_order_value, peak_hour_by_revenue, "
                      "peak_hour_by_orders FROM daily_sales").fetchone()
    assert row == (1, None, 500.0, None, 13)
