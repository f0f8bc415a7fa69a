"""Currencies: a USD-only shop, a shop selling in GBP, USD and EUR with a rate file, bad rate files, and
the report's money formatting. Every expected figure is computed by hand in the comments beside it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from shopverse_platform.cli.arguments import UsageError, check_currency_settings
from shopverse_platform.defs.metrics.facts import REVENUE_CONVERTED
from shopverse_platform.lib.metrics import checks
from shopverse_platform.lib.metrics.currencies import CurrencySettings, ExchangeRateError, read_rates
from shopverse_platform.lib.metrics.facts import build_order_lines, build_orders
from shopverse_platform.lib.metrics.sales import build_daily_sales
from shopverse_platform.lib.reports import data as report_data
from shopverse_platform.lib.reports import figures, render
from shopverse_platform.lib.reports import insights as ins
from shopverse_platform.lib.warehouse.shapes import EMPTY_CLEAN_EVENTS, EMPTY_CLEAN_ORDER_LINES


def shop(events: list[tuple]) -> duckdb.DuckDBPyConnection:
    """``clean_events`` of purchases and refunds: (event_id, name, day, hour, transaction_id, currency,
    [(item, price, quantity)])."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE clean_events AS {EMPTY_CLEAN_EVENTS}")
    for event_id, name, day, hour, txn, currency, items in events:
        ts = datetime(day.year, day.month, day.day, hour)
        con.execute(
            "INSERT INTO clean_events (event_id, event_name, event_ts, event_date, user_id, anonymous_id, session_id, "
            "device, country, items, value, currency, transaction_id) "
            "VALUES (?, ?, ?, ?, 'u1', 'dev-1', ?, 'desktop', 'US', ?, ?, ?, ?)",
            [event_id, name, ts, day, f"s-{event_id}",
             [{"item_id": i, "item_name": i, "item_category": "c", "price": p, "quantity": q} for i, p, q in items],
             sum(p * q for _, p, q in items), currency, txn])
    return con


def build(con: duckdb.DuckDBPyConnection, start: date, end: date, settings: CurrencySettings | None = None) -> None:
    build_order_lines(con, start, end, settings)
    build_orders(con, start, end)
    build_daily_sales(con, start, end)


def day_sales(con: duckdb.DuckDBPyConnection, day: date) -> tuple:
    orders, gross, cancelled, net = con.execute(
        "SELECT orders, gross_revenue, cancelled_revenue, net_revenue FROM daily_sales WHERE sales_date = ?", [day]).fetchone()
    return orders, float(gross or 0), float(cancelled or 0), float(net or 0)


# ------------------------------------------------------------------ a USD-only shop, no configuration
USD_DAY = date(2024, 5, 6)
USD_SHOP = [
    ("p1", "purchase", USD_DAY, 10, "T1", "USD", [("mug", 12.50, 2)]),  # 25.00
    ("p2", "purchase", USD_DAY, 11, "T2", "USD", [("lamp", 40.00, 1)]),  # 40.00
    ("r1", "refund", USD_DAY + timedelta(days=1), 9, "T1", "USD", [("mug", 12.50, 1)]),  # -12.50 the next day
]


def test_a_usd_only_shop_reports_in_dollars_without_a_rate_file():
    con = shop(USD_SHOP)
    build(con, USD_DAY, USD_DAY + timedelta(days=2))
    lines = con.execute("SELECT document_id, currency, reporting_currency, exchange_rate, original_amount, line_amount "
                        "FROM order_lines ORDER BY document_id").fetchall()
    # the reporting currency defaults to the only currency sold in: rate 1, the amounts unchanged
    assert lines == [("T1", "USD", "USD", Decimal(1), Decimal("25.00"), Decimal("25.00")),
                     ("T2", "USD", "USD", Decimal(1), Decimal("40.00"), Decimal("40.00")),
                     ("r1", "USD", "USD", Decimal(1), Decimal("-12.50"), Decimal("-12.50"))]
    assert day_sales(con, USD_DAY) == (2, 65.0, 0.0, 65.0)  # 25 + 40
    assert day_sales(con, USD_DAY + timedelta(days=1)) == (0, 0.0, 12.5, -12.5)
    passed, metadata = checks.revenue_converted(con, USD_DAY, USD_DAY + timedelta(days=2))
    assert passed and metadata["reporting_currency"] == "USD" and metadata["unconverted_net_by_currency"] == {}

    report = render.build(report_data.load(con, report_data.Period.day(USD_DAY)))
    assert report.data.currency == "USD"
    cards = {k.key: k.formatted() for k in report.kpis}
    assert cards["net_revenue"] == "$65.00" and cards["average_order_value"] == "$32.50"  # 65 / 2 orders
    markdown = render.to_markdown(report)
    assert "| Net revenue | $65.00 |" in markdown and "£" not in markdown
    page = render.to_html(report)
    assert "net revenue ($)" in page and "(£)" not in page


# ------------------------------------------------------------------ GBP, USD and EUR with a rate file
D1 = date(2024, 3, 5)
RATES = """date,currency,rate
2024-03-01,USD,0.80
2024-03-04,USD,0.75
2024-03-04,EUR,0.86
2024-03-13,USD,0.70
"""
MIXED_SHOP = [
    ("g1", "purchase", D1, 9, "G1", "GBP", [("vase", 100.00, 1)]),  # 100.00 GBP
    ("u1", "purchase", D1, 10, "U1", "USD", [("mug", 10.00, 2)]),  # 20.00 USD x 0.75 (03-04, not 03-01) = 15.00
    ("e1", "purchase", D1, 11, "E1", "EUR", [("lamp", 50.00, 1)]),  # 50.00 EUR x 0.86 = 43.00
    ("ur", "refund", date(2024, 3, 6), 9, "U1", "USD", [("mug", 10.00, 1)]),  # -10.00 USD x 0.75 = -7.50
    ("u2", "purchase", date(2024, 3, 11), 9, "U2", "USD", [("mug", 40.00, 1)]),  # 03-04 is 7 days old: 30.00
    # 03-04 is 8 days old, and the rate of 03-13 comes after the sale: no rate, 33.33 USD unconverted
    ("u3", "purchase", date(2024, 3, 12), 9, "U3", "USD", [("lamp", 33.33, 1)]),
    ("g2", "purchase", date(2024, 3, 12), 10, "G2", "GBP", [("mug", 10.00, 1)]),  # 10.00 GBP
]
END = date(2024, 3, 13)


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    rates = tmp_path / "rates.csv"
    rates.write_text(RATES)
    con = shop(MIXED_SHOP)
    # no reporting currency configured: GBP is the currency of most revenue (110.00 GBP against
    # 93.33 USD and 50.00 EUR, each in its own units)
    build(con, D1, END, CurrencySettings(exchange_rates=rates))
    return con, rates


def test_two_currencies_sum_in_the_reporting_currency_at_the_last_known_rate(mixed):
    con, _ = mixed
    lines = con.execute(
        "SELECT document_id, currency, reporting_currency, rate_date, exchange_rate, original_unit_price, original_amount, "
        "unit_price, line_amount FROM order_lines ORDER BY order_date, document_id").fetchall()
    assert lines == [
        ("E1", "EUR", "GBP", date(2024, 3, 4), Decimal("0.86"), Decimal("50.000"), Decimal("50.00"), Decimal("43.000"), Decimal("43.00")),
        ("G1", "GBP", "GBP", None, Decimal(1), Decimal("100.000"), Decimal("100.00"), Decimal("100.000"), Decimal("100.00")),
        ("U1", "USD", "GBP", date(2024, 3, 4), Decimal("0.75"), Decimal("10.000"), Decimal("20.00"), Decimal("7.500"), Decimal("15.00")),
        ("ur", "USD", "GBP", date(2024, 3, 4), Decimal("0.75"), Decimal("10.000"), Decimal("-10.00"), Decimal("7.500"), Decimal("-7.50")),
        ("U2", "USD", "GBP", date(2024, 3, 4), Decimal("0.75"), Decimal("40.000"), Decimal("40.00"), Decimal("30.000"), Decimal("30.00")),
        ("G2", "GBP", "GBP", None, Decimal(1), Decimal("10.000"), Decimal("10.00"), Decimal("10.000"), Decimal("10.00")),
        ("U3", "USD", "GBP", None, None, Decimal("33.330"), Decimal("33.33"), None, None),
    ]
    assert day_sales(con, D1) == (3, 158.0, 0.0, 158.0)  # 100 + 15 + 43
    assert day_sales(con, date(2024, 3, 6)) == (0, 0.0, 7.5, -7.5)
    assert day_sales(con, date(2024, 3, 11)) == (1, 30.0, 0.0, 30.0)
    # U3 is an order (it billed 33.33 USD) whose money is unknown in GBP: 2 orders, 10.00 GBP
    assert day_sales(con, date(2024, 3, 12)) == (2, 10.0, 0.0, 10.0)
    # both averages over the one order priced in GBP: 10.00 / 1, not the gross one over 2 orders
    # (5.00, below the net average with nothing cancelled)
    assert con.execute("SELECT average_order_value, gross_average_order_value, aov_orders, gross_aov_orders "
                       "FROM daily_sales WHERE sales_date = ?", [date(2024, 3, 12)]).fetchone() == (10.0, 10.0, 1, 1)
    period = report_data.load(con, report_data.Period.day(date(2024, 3, 12)))
    assert (period.totals["average_order_value"], period.totals["gross_average_order_value"]) == (10.0, 10.0)
    u3 = con.execute("SELECT is_order, currency, net_amount, original_net_amount FROM orders WHERE document_id = 'U3'").fetchone()
    assert u3 == (True, "USD", None, Decimal("33.33"))
    # the reconciliations still hold: clean sources, documents and days agree with the lines
    for check in (checks.order_lines_match_clean, checks.orders_match_lines, checks.daily_sales_reconcile):
        assert check(con, D1, END)[0], check.__name__


def test_a_day_past_the_rate_window_is_unconverted_and_the_check_says_how_much(mixed):
    con, rates = mixed
    outcome = checks.revenue_converted(con, D1, END, 7, rates)
    passed, metadata = outcome
    assert not passed
    assert metadata["unconverted_net_by_currency"] == {"USD": 33.33}
    assert (metadata["unconverted_lines"], metadata["unconverted_documents"]) == (1, 1)
    assert metadata["unconverted_days"] == ["2024-03-12"]
    assert metadata["reporting_currency"] == "GBP" and metadata["exchange_rates"] == str(rates)
    assert "USD" in metadata["what_to_look_at"]
    result = REVENUE_CONVERTED.result(outcome)
    assert result.severity == dg.AssetCheckSeverity.WARN and not result.passed
    # the days before 03-12 all converted
    assert checks.revenue_converted(con, D1, date(2024, 3, 12))[0]


def test_a_longer_rate_window_converts_the_late_day(mixed):
    con, rates = mixed
    build(con, D1, END, CurrencySettings(exchange_rates=rates, max_rate_age_days=8))
    rate, amount = con.execute("SELECT exchange_rate, line_amount FROM order_lines WHERE document_id = 'U3'").fetchone()
    assert (rate, amount) == (Decimal("0.75"), Decimal("25.00"))  # 33.33 x 0.75 = 24.9975, to the cent 25.00
    assert day_sales(con, date(2024, 3, 12)) == (2, 35.0, 0.0, 35.0)
    assert checks.revenue_converted(con, D1, END, 8, rates)[0]


def test_a_sale_on_a_rate_day_takes_that_day_rate_once(tmp_path):
    """Rates on consecutive days: each day of sale takes the rate of its own day (not the day
    before's as well: the line is neither doubled nor dropped); a day before the first rate has none."""
    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,rate\n2024-03-04,USD,0.80\n2024-03-05,USD,0.75\n2024-03-07,USD,0.50\n")
    con = shop([
        ("g", "purchase", date(2024, 3, 4), 8, "G", "GBP", [("vase", 500.00, 1)]),  # GBP is the reporting currency
        ("a", "purchase", date(2024, 3, 3), 9, "A", "USD", [("mug", 10.00, 1)]),  # before any rate: unconverted
        ("b", "purchase", date(2024, 3, 4), 9, "B", "USD", [("mug", 10.00, 1)]),  # 10 x 0.80 = 8.00
        ("c", "purchase", date(2024, 3, 5), 9, "C", "USD", [("mug", 10.00, 1)]),  # 10 x 0.75 (its own day's) = 7.50
        ("d", "purchase", date(2024, 3, 6), 9, "D", "USD", [("mug", 10.00, 1)]),  # 03-05's rate, a day old: 7.50
        ("e", "purchase", date(2024, 3, 7), 9, "E", "USD", [("mug", 10.00, 1)]),  # 10 x 0.50 = 5.00
    ])
    build_order_lines(con, date(2024, 3, 3), date(2024, 3, 8), CurrencySettings(exchange_rates=rates))
    lines = con.execute("SELECT document_id, rate_date, exchange_rate, line_amount FROM order_lines "
                        "WHERE currency = 'USD' ORDER BY document_id").fetchall()
    assert lines == [("A", None, None, None),
                     ("B", date(2024, 3, 4), Decimal("0.80"), Decimal("8.00")),
                     ("C", date(2024, 3, 5), Decimal("0.75"), Decimal("7.50")),
                     ("D", date(2024, 3, 5), Decimal("0.75"), Decimal("7.50")),
                     ("E", date(2024, 3, 7), Decimal("0.50"), Decimal("5.00"))]


def test_a_configured_reporting_currency_and_a_mixed_table_are_caught(mixed, tmp_path):
    con, _ = mixed
    rates = tmp_path / "usd_rates.csv"
    rates.write_text("date,currency,rate\n2024-03-04,GBP,1.25\n")  # 1 GBP = 1.25 USD
    build(con, D1, date(2024, 3, 6), CurrencySettings(reporting_currency="USD", exchange_rates=rates))
    amounts = dict(con.execute("SELECT document_id, line_amount FROM order_lines WHERE order_date = ?", [D1]).fetchall())
    # G1 100.00 GBP x 1.25 = 125.00 USD; U1 is USD already; E1 has no EUR rate in this file
    assert amounts == {"G1": Decimal("125.00"), "U1": Decimal("20.00"), "E1": None}
    passed, metadata = checks.revenue_converted(con, D1, date(2024, 3, 6))
    assert not passed
    assert metadata["unconverted_net_by_currency"] == {"EUR": 50.0}
    # 03-05 is now in USD, the other days still in GBP: a table that must be rebuilt
    assert metadata["reporting_currency"] == ["GBP", "USD"] and "mixed_reporting_currencies" in metadata


def test_order_exports_take_their_configured_currency():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE clean_order_lines AS {EMPTY_CLEAN_ORDER_LINES}")
    con.execute("INSERT INTO clean_order_lines VALUES ('1', ?, ?, 'SKU', 'Thing', 3, 2.5, 7.5, 'A', false, 'France', "
                "'product', false, NULL, 'export.csv', 2)", [datetime(2024, 5, 6, 9), USD_DAY])
    settings = CurrencySettings.from_environment({"SHOPVERSE_ORDER_EXPORT_CURRENCY": "eur"})
    build(con, USD_DAY, USD_DAY + timedelta(days=1), settings)
    row = con.execute("SELECT currency, reporting_currency, exchange_rate, line_amount FROM order_lines").fetchone()
    assert row == ("EUR", "EUR", Decimal(1), Decimal("7.50"))  # 3 x 2.50 EUR, the only currency: reported in EUR
    assert report_data.reporting_currency(con, report_data.Period.day(USD_DAY)) == "EUR"


def test_settings_from_the_environment():
    assert CurrencySettings.from_environment({}) == CurrencySettings(None, None, 7, "GBP")
    got = CurrencySettings.from_environment({
        "SHOPVERSE_REPORTING_CURRENCY": " usd ", "SHOPVERSE_EXCHANGE_RATES": "/data/rates.csv",
        "SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS": "3", "SHOPVERSE_ORDER_EXPORT_CURRENCY": "EUR"})
    assert got == CurrencySettings("USD", Path("/data/rates.csv"), 3, "EUR")
    with pytest.raises(ValueError, match="SHOPVERSE_REPORTING_CURRENCY must be a three-letter"):
        CurrencySettings.from_environment({"SHOPVERSE_REPORTING_CURRENCY": "dollars"})
    with pytest.raises(ValueError, match="SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS must be a whole number"):
        CurrencySettings.from_environment({"SHOPVERSE_EXCHANGE_RATE_MAX_AGE_DAYS": "a week"})


# ------------------------------------------------------------------ bad rate files
def test_a_bad_rate_file_names_the_file_and_every_bad_line(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("date,currency,rate\n"
                    "2024-03-04,USD,0.75\n"
                    "2024-13-01,USD,0.75\n"  # line 3: no 13th month
                    "04/03/2024,EUR,0.86\n"  # line 4: not YYYY-MM-DD
                    "2024-03-04,US,0.75\n"  # line 5: two letters
                    "2024-03-05,USD,abc\n"  # line 6
                    "2024-03-06,USD,-1\n"  # line 7
                    "\n"  # line 8: blank, skipped
                    "2024-03-04,usd,0.74\n"  # line 9: USD of 03-04 again (codes are read upper case)
                    "2024-03-07,USD\n")  # line 10
    with pytest.raises(ExchangeRateError) as error:
        read_rates(path)
    message = str(error.value)
    assert message.startswith(f"exchange rates {path}: ")
    for expected in ("line 3: date '2024-13-01' is not a date written YYYY-MM-DD",
                     "line 4: date '04/03/2024' is not a date written YYYY-MM-DD",
                     "line 5: currency 'US' is not a three-letter ISO 4217 code",
                     "line 6: rate 'abc' is not a positive number",
                     "line 7: rate '-1' is not a positive number",
                     "line 9: 2024-03-04 USD was already given on line 2",
                     "line 10: expected 3 fields (date,currency,rate), got 2"):
        assert expected in message
    assert "line 2:" not in message and "line 8" not in message


def test_a_rate_file_with_another_header_or_missing_is_refused(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("day,code,value\n2024-03-04,USD,0.75\n")
    with pytest.raises(ExchangeRateError, match=r"rates\.csv: line 1: the header must be date,currency,rate, got 'day,code,value'"):
        read_rates(path)
    with pytest.raises(ExchangeRateError, match=r"nowhere\.csv: no such file"):
        read_rates(tmp_path / "nowhere.csv")


def test_a_rate_file_quoted_against_another_currency_is_refused(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("date,currency,rate\n2024-03-04,GBP,0.85\n2024-03-04,USD,0.92\n")  # EUR-based, e.g. from the ECB
    con = shop(MIXED_SHOP)
    with pytest.raises(ExchangeRateError, match="GBP's own rate must be 1; got 0.85 on 2024-03-04"):
        build_order_lines(con, D1, END, CurrencySettings(exchange_rates=path))
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'order_lines'").fetchone() == (0,)


def test_the_command_line_refuses_a_bad_rate_file_before_running(tmp_path, monkeypatch):
    path = tmp_path / "rates.csv"
    path.write_text("date,currency,rate\n2024-03-04,USD,0\n")
    monkeypatch.setenv("SHOPVERSE_EXCHANGE_RATES", str(path))
    with pytest.raises(UsageError, match=r"rates\.csv: line 2: rate '0' is not a positive number"):
        check_currency_settings()
    path.write_text("date,currency,rate\n2024-03-04,USD,0.75\n")
    check_currency_settings()  # a good file passes
    monkeypatch.setenv("SHOPVERSE_REPORTING_CURRENCY", "pounds")
    with pytest.raises(UsageError, match="SHOPVERSE_REPORTING_CURRENCY must be a three-letter"):
        check_currency_settings()


# ------------------------------------------------------------------ money in reports
def test_money_prints_the_symbol_or_the_code():
    assert ins.money(9120, "GBP") == "£9,120"
    assert ins.money(-12.5, "USD") == "\u2212$12.50"
    assert ins.money(5, "EUR") == "€5.00"
    assert ins.money(1234.4, "CHF") == "CHF 1,234"  # no well-known symbol: the code, set apart
    assert ins.money(2500, "CAD") == "CA$2,500"
    assert ins.money(999.99) == "£999.99"  # the default stays the platform's GBP
    assert ins.currency_label("JPY") == "¥" and ins.currency_label("SEK") == "SEK"


def test_insights_and_figures_carry_the_currency():
    kpi = ins.kpis({"net_revenue": 1500.0, "orders": 3}, {"net_revenue": 1000.0, "orders": 2}, "USD")
    assert [k.formatted() for k in kpi] == ["$1,500", "3"]
    assert ins.fmt_value(1000.0, "money", "EUR") == "€1,000"
    change = ins.revenue_change(9120.0, 10364.0, "weekly", currency="USD")
    assert change.text == "Revenue \u221212% week over week ($9,120 against $10,364)"  # 9120/10364 - 1 = -12.0 %
    products = pd.DataFrame({"product_name": ["Mug", "Lamp"], "net_revenue": [300.0, 100.0]})
    assert ins.top_product(products, "SEK").text == "Mug led product revenue with SEK 300.00 (75% of product revenue)"
    order = pd.Series({"anomaly_type": "unusual_order", "entity_id": "T9", "observed": 4566.0, "expected": 45.0,
                       "score": 2.5, "threshold": 2.0, "detail": None})
    assert ins.describe_anomaly(order, "EUR").startswith("unusual order T9: €4,566 against €45.00 expected")
    fig = figures.trend(pd.DataFrame({"bucket": [date(2024, 5, 6)], "net_revenue": [1.0], "orders": [1]}), False, "$")
    assert fig.data[1].name == "Net revenue ($)"
    assert fig.layout.yaxis2.title.text == "net revenue ($)"
