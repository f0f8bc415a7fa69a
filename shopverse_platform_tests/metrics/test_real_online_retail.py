"""The metric layer on the real UCI Online Retail export, against a second, plain pandas computation.

The pandas side applies the documented rules (docs/metrics.md) on its own reading of the CSV: exact
repeats dropped, invoices ``C...`` are cancellations dated on their own day, postage/manual/discount/
gift-voucher lines are sales but not products, fees/commission/bad debt/samples are not sales,
an order is an invoice that bills more than zero, guests have no CustomerID.
"""

from __future__ import annotations

import pandas as pd
import pytest

from shopverse_platform.defs.resources import Warehouse
from shopverse_platform_tests.ml.warehouses import retail_orders, retail_template

pytestmark = pytest.mark.slow

POSTAGE, MANUAL, DISCOUNT = {"POST", "DOT", "C2"}, {"M"}, {"D"}
NOT_SALES = {"CRUK", "BANK CHARGES", "AMAZONFEE", "B", "S", "PADS"}


@pytest.fixture(scope="module")
def expected_days(online_retail_file) -> pd.DataFrame:
    df = pd.read_csv(online_retail_file, dtype=str, keep_default_na=False).drop_duplicates()
    qty, price = df.Quantity.astype(int), df.UnitPrice.astype(float)
    df = df.assign(qty=qty, cents=(qty * price * 100).round().astype("int64"), day=pd.to_datetime(df.InvoiceDate.str[:10]),
                   cancel=df.InvoiceNo.str.startswith("C"), guest=df.CustomerID == "")
    code = df.StockCode
    gift = code.str.lower().str.startswith("gift_")
    named = code.isin(POSTAGE | MANUAL | DISCOUNT | NOT_SALES) | gift
    stock_movement = ~named & ~df.cancel & (df.qty < 0)
    df["product"] = ~named & ~stock_movement
    df["sales"] = df["product"] | code.isin(POSTAGE | MANUAL | DISCOUNT) | gift

    sales = df[df.sales]
    invoice_gross = sales[~sales.cancel].groupby("InvoiceNo").cents.sum()
    order_ids = set(invoice_gross[invoice_gross > 0].index)
    in_orders = df[df.InvoiceNo.isin(order_ids)]
    invoices = in_orders.groupby("InvoiceNo").agg(day=("day", "first"), customer=("CustomerID", "first"), guest=("guest", "first"))
    first_order = invoices[~invoices.guest].groupby("customer").day.min()
    invoices["new"] = ~invoices.guest & (invoices.day == invoices.customer.map(first_order))
    products = in_orders[in_orders["product"]]

    days = pd.DataFrame(index=pd.date_range("2010-12-01", "2011-12-09", name="day"))
    days["orders"] = invoices.groupby("day").size()
    days["items"] = products.groupby("day").qty.sum()
    days["gross_cents"] = sales[~sales.cancel].groupby("day").cents.sum()
    days["cancelled_cents"] = -sales[sales.cancel].groupby("day").cents.sum()
    days["cancellations"] = sales[sales.cancel].groupby("day").InvoiceNo.nunique()
    days["unique_customers"] = invoices[~invoices.guest].groupby("day").customer.nunique()
    days["guest_orders"] = invoices[invoices.guest].groupby("day").size()
    days["new_customers"] = invoices[invoices.new].groupby("day").customer.nunique()
    days["unique_products"] = products.groupby("day").StockCode.nunique()
    return days.fillna(0).astype("int64")


@pytest.fixture(scope="module")
def real_warehouse(tmp_path_factory, online_retail_file) -> Warehouse:
    """raw_orders, clean_order_lines, order_lines, orders, daily_sales, customer_metrics and anomalies
    over the whole export: the session's retail template (ml/warehouses.py), read only here. It is
    built in two runs; every check of both passes, but the input-quality gate, which warns about the
    shop's closures (tested in ingestion/test_ingestion.py)."""
    orders = retail_orders(tmp_path_factory, online_retail_file)
    template = retail_template(tmp_path_factory, online_retail_file)
    built = {e.asset_key.to_user_string() for run in (orders, template) for e in run.result.get_asset_materialization_events()}
    assert {"raw_orders", "clean_order_lines", "order_lines", "orders", "daily_sales", "customer_metrics", "anomalies"} <= built
    for run in (orders, template):
        assert run.result.success
        assert all(e.passed or (e.check_name.endswith("_input_quality") and e.severity.value == "WARN")
                   for e in run.result.get_asset_check_evaluations())
    return template.warehouse()


def test_daily_sales_equal_an_independent_pandas_computation_every_day(real_warehouse, expected_days):
    with real_warehouse.connect(read_only=True) as con:
        got = con.execute(
            """SELECT sales_date AS day, orders, items, CAST(round(gross_revenue * 100) AS BIGINT) AS gross_cents,
                      CAST(round(cancelled_revenue * 100) AS BIGINT) AS cancelled_cents, cancellations,
                      unique_customers, guest_orders, new_customers, unique_products
               FROM daily_sales ORDER BY sales_date"""
        ).df().set_index("day")
    got.index = pd.DatetimeIndex(got.index).astype(expected_days.index.dtype)
    got = got.astype("int64")
    pd.testing.assert_frame_equal(got[expected_days.columns], expected_days, check_names=False, check_freq=False)
    # spot checks an analyst would recognise: the giant order and its cancellation twenty minutes later
    assert got.loc["2011-12-09", "gross_cents"] - got.loc["2011-12-09", "cancelled_cents"] < 5_000_000
    assert got.loc["2011-12-03"].sum() == 0  # a Saturday: the shop never trades on Saturdays


def test_giant_orders_later_cancelled_are_flagged(real_warehouse):
    with real_warehouse.connect(read_only=True) as con:
        flagged = dict(con.execute(
            "SELECT entity_id, json_extract(detail, '$.cancelled_share')::DOUBLE FROM anomalies WHERE anomaly_type = 'unusual_order'"
        ).fetchall())
        biggest_cancelled = [r[0] for r in con.execute(
            """SELECT o.document_id FROM orders o JOIN orders c
                 ON c.is_credit AND c.customer_id = o.customer_id AND c.credited_amount = o.gross_amount AND c.order_ts >= o.order_ts
               WHERE o.is_order ORDER BY o.gross_amount DESC LIMIT 3"""
        ).fetchall()]
    assert set(biggest_cancelled) == {"581483", "541431", "556444"}
    for invoice in biggest_cancelled:
        assert flagged.get(invoice) == 1.0, invoice  # flagged, and known to be cancelled in full


def test_guests_count_for_revenue_not_as_customers(real_warehouse):
    with real_warehouse.connect(read_only=True) as con:
        guests_in_customers = con.execute("SELECT count(*) FROM customer_metrics WHERE customer_id IS NULL").fetchone()[0]
        guest_revenue, customers = con.execute(
            "SELECT sum(guest_revenue), (SELECT count(*) FROM customer_metrics) FROM daily_sales").fetchone()
    assert guests_in_customers == 0 and guest_revenue > 0
    assert customers == 4_371  # 4,372 published CustomerIDs, one of which only ever has zero-value stock lines


def test_the_last_day_is_the_only_partial_one_and_is_compared_like_for_like(real_warehouse, online_retail_file):
    """The export ends at 12:50 on 9 December 2011: a full-day comparison read "Revenue −60 %". Every
    other trading day ends within 2 hours of the shop's usual end and is compared day over day."""
    from datetime import date

    from shopverse_platform.lib.reports import data as report_data
    from shopverse_platform.lib.reports import render

    with real_warehouse.connect(read_only=True) as con:
        days = [d for (d,) in con.execute("SELECT sales_date FROM daily_sales WHERE orders > 0 ORDER BY 1").fetchall()]
        partial = []
        for day in days:
            data = report_data.ReportData(report_data.Period.day(day))
            report_data.completeness(con, data)
            if data.partial:
                partial.append(day)
        last = render.build(report_data.load(con, report_data.Period.day(date(2011, 12, 9))))
    assert partial == [date(2011, 12, 9)]
    # independently: the sales lines (the module's rules) of 9 and 8 December up to 12:50
    df = pd.read_csv(online_retail_file, dtype=str, keep_default_na=False).drop_duplicates()
    code = df.StockCode
    not_sales = code.isin(NOT_SALES) | (~code.isin(POSTAGE | MANUAL | DISCOUNT) & ~code.str.lower().str.startswith("gift_")
                                        & ~df.InvoiceNo.str.startswith("C") & (df.Quantity.astype(int) < 0))
    lines = df[~not_sales]
    cents = (lines.Quantity.astype(int) * lines.UnitPrice.astype(float) * 100).round().astype("int64")
    up_to = lines.InvoiceDate.str[11:16] <= "12:50"
    on = {day: int(cents[up_to & (lines.InvoiceDate.str[:10] == day)].sum()) for day in ("2011-12-09", "2011-12-08")}
    change = (on["2011-12-09"] - on["2011-12-08"]) / on["2011-12-08"]
    texts = [i.text for i in last.insights]
    assert texts[0].startswith("Partial day: its data ends at 12:50 UTC")
    assert texts[1] == (f"Revenue \u2212{abs(change):.0%} against the same hours of the previous day "
                        f"(£{on['2011-12-09'] / 100:,.0f} against £{on['2011-12-08'] / 100:,.0f})")
