"""A whole-history table and the check of its revenue read the same documents: an invoice holding
only a negative postage line (postage given back on its own invoice) bills no order and gives no
credit, yet lowers net revenue. Figures by hand from the invoices below."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from shopverse_platform.lib.metrics import checks
from shopverse_platform.lib.metrics.facts import build_order_lines, build_orders
from shopverse_platform.lib.metrics.history import build_customer_metrics, build_seasonality
from shopverse_platform.lib.metrics.sales import build_daily_sales
from shopverse_platform.lib.warehouse.shapes import EMPTY_CLEAN_ORDER_LINES

MON = date(2024, 5, 6)
TUE = MON + timedelta(days=1)

# (invoice, day, hour, customer, stock code, line type, quantity, unit price, cancels)
LINES = [
    ("300", MON, 9, "A", "SKU", "product", 2, 10.00, None),  # an order of 20.00 ...
    ("C300", MON, 11, "A", "SKU", "product", -1, 10.00, "300"),  # ... 10.00 of it cancelled
    ("301", TUE, 12, "B", "POST", "postage", -1, 5.00, None),  # postage given back on its own invoice: -5.00
]
NET = Decimal("5.00")  # 20.00 - 10.00 - 5.00


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE clean_order_lines AS {EMPTY_CLEAN_ORDER_LINES}")
    for n, (invoice, day, hour, customer, code, line_type, quantity, price, cancels) in enumerate(LINES):
        con.execute(
            "INSERT INTO clean_order_lines VALUES (?, ?, ?, ?, 'Thing', ?, ?, ?, ?, false, 'United Kingdom', "
            "?, ?, ?, 'export.csv', ?)",
            [invoice, datetime(day.year, day.month, day.day, hour), day, code, quantity, price, quantity * price,
             customer, line_type, cancels is not None, cancels, n + 1])
    start, end = MON, TUE + timedelta(days=1)
    build_order_lines(con, start, end)
    build_orders(con, start, end)
    build_daily_sales(con, start, end)
    build_seasonality(con)
    return con


def test_the_postage_invoice_is_neither_an_order_nor_a_credit_but_moves_net_revenue(con):
    assert con.execute("SELECT is_order, is_credit, net_amount FROM orders WHERE document_id = '301'").fetchone() \
        == (False, False, Decimal("-5.00"))
    assert con.execute("SELECT sum(net_revenue) FROM daily_sales").fetchone()[0] == NET


def test_seasonality_nets_the_negative_postage_in_its_slot_and_its_check_passes(con):
    slots = dict(con.execute("SELECT slot, net_revenue FROM seasonality WHERE grain = 'hour_of_week' AND net_revenue <> 0").fetchall())
    assert slots == {"Mon 09:00-10:00 UTC": Decimal("20.00"), "Mon 11:00-12:00 UTC": Decimal("-10.00"),
                     "Tue 12:00-13:00 UTC": Decimal("-5.00")}
    months = con.execute("SELECT net_revenue FROM seasonality WHERE grain = 'month' AND net_revenue <> 0").fetchall()
    assert months == [(NET,)]
    passed, figures = checks.whole_history_revenue(con, "seasonality", "net_revenue", "grain = 'hour_of_week'")
    assert passed, figures
    assert figures == {"seasonality_net_revenue": 5.0, "orders_net_amount": 5.0}
    # the postage invoice is no order: it sets no order count and no revenue peak
    assert con.execute("SELECT sum(orders) FROM seasonality WHERE grain = 'month'").fetchone()[0] == 1
    assert con.execute("SELECT slot FROM seasonality WHERE grain = 'hour_of_week' AND is_peak_revenue").fetchall() \
        == [("Mon 09:00-10:00 UTC",)]


def test_the_check_still_fails_when_the_table_misses_revenue(con):
    con.execute("UPDATE seasonality SET net_revenue = 0 WHERE slot = 'Tue 12:00-13:00 UTC'")
    passed, figures = checks.whole_history_revenue(con, "seasonality", "net_revenue", "grain = 'hour_of_week'")
    assert not passed and figures == {"seasonality_net_revenue": 10.0, "orders_net_amount": 5.0}


def test_customer_metrics_and_its_check_read_the_same_documents(con):
    build_customer_metrics(con)
    passed, figures = checks.whole_history_revenue(con, "customer_metrics", "net_revenue")
    assert passed, figures
