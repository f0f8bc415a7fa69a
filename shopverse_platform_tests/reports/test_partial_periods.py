"""A partial day or week is compared like for like, never as a full period: the real export ends at
12:50 on its last day, and a full-day comparison read as "Revenue −60 %"."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from shopverse_platform.lib.reports import data as report_data
from shopverse_platform.lib.reports import render

LAST = date(2026, 11, 18)  # a Wednesday


def _daily_sales(con: duckdb.DuckDBPyConnection) -> None:
    """daily_sales summing ``orders`` per day, with the columns the report reads."""
    con.execute("""CREATE TABLE daily_sales AS
        SELECT order_date AS sales_date, sum(net_amount) AS net_revenue, count(*) AS orders,
               sum(net_amount) AS aov_net_revenue, count(*) AS aov_orders, sum(net_amount) AS gross_revenue,
               0 AS new_customers
        FROM orders GROUP BY order_date""")


def _warehouse(last_day_orders: list[tuple[int, float]]) -> duckdb.DuckDBPyConnection:
    """Fourteen full days before LAST with a £100 order at 10:00 and a £200 one at 18:00; LAST holds
    ``last_day_orders`` (hour, amount). daily_sales sums the same orders per day."""
    con = duckdb.connect()
    con.execute("CREATE TABLE orders (order_date DATE, order_ts TIMESTAMP, net_amount DECIMAL(18,2), is_order BOOLEAN)")
    days = {LAST - timedelta(days=n): [(10, 100.0), (18, 200.0)] for n in range(1, 15)}
    days[LAST] = last_day_orders
    for day, orders in days.items():
        for hour, amount in orders:
            con.execute("INSERT INTO orders VALUES (?, ?, ?, true)", [day, datetime(day.year, day.month, day.day, hour), amount])
    _daily_sales(con)
    return con


def test_a_day_whose_data_ends_early_is_compared_with_the_same_hours_of_the_day_before():
    con = _warehouse([(10, 80.0)])  # the feed stops after 10:00 on the last day
    report = render.build(report_data.load(con, report_data.Period.day(LAST)))
    texts = [i.text for i in report.insights]
    assert ("Partial day: its data ends at 10:00 UTC, when the shop's days usually end at 18:00; changes compare "
            "the same hours of the previous day") in texts
    # £80 against the £100 of the day before up to 10:00: −20 %, not the −73 % of £80 against £300
    assert "Revenue \u221220% against the same hours of the previous day (£80.00 against £100.00)" in texts
    cards = {k.key: k for k in report.kpis}
    assert (cards["net_revenue"].previous, cards["orders"].previous) == (100.0, 1.0)


def test_a_full_day_is_compared_day_over_day():
    con = _warehouse([(10, 150.0), (18, 300.0)])
    report = render.build(report_data.load(con, report_data.Period.day(LAST)))
    texts = [i.text for i in report.insights]
    assert not any(t.startswith("Partial") for t in texts)
    assert "Revenue +50% day over day (£450.00 against £300.00)" in texts


def test_a_week_the_feed_ends_in_is_compared_with_the_same_weekdays():
    con = _warehouse([(10, 100.0), (18, 200.0)])  # the data ends on Wednesday LAST, a full day
    monday = LAST - timedelta(days=2)
    report = render.build(report_data.load(con, report_data.Period.week(monday)))
    texts = [i.text for i in report.insights]
    assert ("Partial week: the data covers Mon 16 Nov to Wed 18 Nov only; changes compare the same weekdays of the "
            "previous week") in texts
    # Monday to Wednesday: 3 x £300 both weeks; the whole previous week held 7 x £300
    assert "Revenue 0.0% against the same weekdays of the previous week (£900.00 against £900.00)" in texts
    assert report.data.like_for_like == pytest.approx(
        {"net_revenue": 900.0, "orders": 6.0, "previous_net_revenue": 900.0, "previous_orders": 6.0})


def test_a_day_in_progress_is_partial_up_to_now_even_for_a_new_shop(monkeypatch):
    """Today's report (the freshness path builds today while it fills) read "Revenue −100% day over
    day" at 00:30 for a shop of three days: the 7 days of history the usual-end rule needs were not
    there. A day not ended is partial up to now whatever the history, compared with the same hours."""
    con = duckdb.connect()
    con.execute("CREATE TABLE orders (order_date DATE, order_ts TIMESTAMP, net_amount DECIMAL(18,2), is_order BOOLEAN)")
    yesterday = LAST - timedelta(days=1)
    for day, hour, amount in ((yesterday, 9, 40.0), (yesterday, 20, 500.0), (LAST, 8, 30.0)):
        con.execute("INSERT INTO orders VALUES (?, ?, ?, true)", [day, datetime(day.year, day.month, day.day, hour), amount])
    _daily_sales(con)
    monkeypatch.setattr(report_data, "utc_now", lambda: datetime(LAST.year, LAST.month, LAST.day, 10, 30, tzinfo=timezone.utc))
    report = render.build(report_data.load(con, report_data.Period.day(LAST)))
    texts = [i.text for i in report.insights]
    assert "Day in progress: its data up to 10:30 UTC; changes compare the same hours of the previous day" in texts
    # £30 by 10:30 against the £40 of the day before by 10:30: −25 %, not −94 % against its full £540
    assert "Revenue \u221225% against the same hours of the previous day (£30.00 against £40.00)" in texts
    # the day before, seen the next day: a full day, compared day over day
    monkeypatch.setattr(report_data, "utc_now", lambda: datetime(LAST.year, LAST.month, LAST.day + 1, 1, tzinfo=timezone.utc))
    texts = [i.text for i in render.build(report_data.load(con, report_data.Period.day(LAST))).insights]
    assert not any(t.startswith(("Day in progress", "Partial")) for t in texts)


def test_a_report_reads_one_snapshot_while_a_run_commits_beside_it(tmp_path, monkeypatch):
    """On a DuckLake a run writes while reports are read. A run that commits daily_sales between the
    report's KPI totals and its trend must not make the two disagree: every section is read in one
    transaction (the snapshot before the commit), and the next report reads the commit."""
    from shopverse_platform.defs.resources import Warehouse
    from shopverse_platform.lib.warehouse import lake

    warehouse = Warehouse(path=f"ducklake:sqlite:{tmp_path / 'shopverse.sqlite'}")
    try:
        with warehouse.connect() as con:
            con.execute("CREATE TABLE orders (order_date DATE, order_ts TIMESTAMP, net_amount DECIMAL(18,2), is_order BOOLEAN)")
            for n in range(0, 15):
                day = LAST - timedelta(days=n)
                con.execute("INSERT INTO orders VALUES (?, ?, 100, true), (?, ?, 200, true)",
                            [day, datetime(day.year, day.month, day.day, 10), day, datetime(day.year, day.month, day.day, 18)])
            _daily_sales(con)
        trend_read = report_data._trend

        def run_commits_then_trend(con, period):
            with warehouse.connect() as run:  # another connection: its own transaction, committed
                run.execute("UPDATE daily_sales SET net_revenue = net_revenue + 1000 WHERE sales_date = ?", [LAST])
            return trend_read(con, period)

        monkeypatch.setattr(report_data, "_trend", run_commits_then_trend)
        with warehouse.connect() as con:
            data = report_data.load(con, report_data.Period.day(LAST))
        last = dict(zip((bucket.date() for bucket in data.trend["bucket"]), data.trend["net_revenue"]))
        assert data.totals["net_revenue"] == 300.0
        assert last[LAST] == data.totals["net_revenue"], "the trend read the run's commit, the KPI totals did not"
        monkeypatch.setattr(report_data, "_trend", trend_read)
        with warehouse.connect() as con:
            assert report_data.load(con, report_data.Period.day(LAST)).totals["net_revenue"] == 1300.0
    finally:
        lake.release_instances()


def test_an_orders_only_shop_has_no_sessions_rather_than_zero():
    """Found reading the report of the UCI year (order exports, no event feed): its KPI card said
    "Sessions 0" beside 44 orders, daily_traffic holding a row of 0 sessions a day. Before the shop's
    first event the traffic KPIs are none and the event sections say why; once it has sent events, a
    day without a session is 0 (a tracker that stopped)."""
    con = _warehouse([(10, 100.0), (18, 200.0)])
    con.execute("CREATE TABLE daily_traffic AS SELECT sales_date AS traffic_date, 0 AS sessions, 0 AS bounced_sessions, "
                "0 AS visitors, [{'hour': 10, 'sessions_started': 0}] AS activity_by_hour FROM daily_sales")
    data = report_data.load(con, report_data.Period.day(LAST))
    assert (data.totals["sessions"], data.totals["bounce_rate"], data.previous_totals["sessions"]) == (None, None, None)
    assert data.totals["net_revenue"] == 300.0
    assert data.missing["traffic"].startswith("no shop events before the end of this day")
    report = render.build(data)
    cards = {k.key: k for k in report.kpis}
    assert cards["sessions"].value is None

    con.execute("UPDATE daily_traffic SET sessions = 5 WHERE traffic_date = ?", [LAST - timedelta(days=3)])
    data = report_data.load(con, report_data.Period.day(LAST))
    assert data.totals["sessions"] == 0.0 and "traffic" not in data.missing
