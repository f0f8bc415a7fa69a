"""The revenue labels (customer lifetime value; visitors' future revenue) are exact sums: the same
whatever order the amounts are added in. 1,000,000,000.00 plus thirty 0.10 added as DOUBLE gives
1,000,000,003.0000007 big-first and 1,000,000,003.0 small-first (checked below on the same rows); the
expectation is computed with Decimal. A customer whose order was cancelled in full has exactly 0."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb

from shopverse_platform.lib.ml.features import labels_sql
from shopverse_platform.lib.ml.specs import CLV, PROPENSITY

BEFORE, LABEL_END = date(2026, 3, 1), date(2026, 4, 1)
BIG, SMALL, COUNT = Decimal("1000000000.00"), Decimal("0.10"), 30
EXPECTED = float(BIG + SMALL * COUNT)


def _amounts(big_first: bool) -> list[Decimal]:
    amounts = [BIG] + [SMALL] * COUNT
    return amounts if big_first else amounts[::-1]


def _customer_labels(big_first: bool) -> tuple[list[tuple], float]:
    con = duckdb.connect()
    con.execute("SET threads = 1")  # rows are added in the order they were inserted
    con.execute("CREATE TABLE orders (order_date DATE, source VARCHAR, customer_id VARCHAR, net_amount DECIMAL(18,2), "
                "is_order BOOLEAN, is_credit BOOLEAN)")
    rows = [[BEFORE + timedelta(days=n % 20), "events", "c1", amount, True, False]
            for n, amount in enumerate(_amounts(big_first))]
    rows += [[BEFORE, "events", "c2", Decimal("0.30"), True, False], [BEFORE, "events", "c2", Decimal("-0.10"), False, True],
             [BEFORE, "events", "c2", Decimal("-0.20"), False, True]]  # an order of 0.30 cancelled in two credits
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", rows)
    double_sum = con.execute("SELECT sum(CAST(net_amount AS DOUBLE)) FROM orders WHERE customer_id = 'c1'").fetchone()[0]
    labels = con.execute(f"SELECT entity_id, future_orders, future_revenue FROM ({labels_sql(con, CLV)}) ORDER BY entity_id",
                         {"before": BEFORE, "label_end": LABEL_END, "order_source": None}).fetchall()
    return labels, double_sum


def _visitor_labels(big_first: bool) -> list[tuple]:
    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute("CREATE TABLE clean_events (event_id VARCHAR, event_name VARCHAR, event_ts TIMESTAMP, event_date DATE, "
                "user_id VARCHAR, anonymous_id VARCHAR, value DOUBLE)")
    rows = []
    for n, amount in enumerate(_amounts(big_first)):
        ts = datetime(2026, 3, 2, 12) + timedelta(hours=n)
        rows.append([f"e{n}", "purchase", ts, ts.date(), "u1", "a1", float(amount)])
    con.executemany("INSERT INTO clean_events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return con.execute(f"SELECT entity_id, future_orders, future_revenue FROM ({labels_sql(con, PROPENSITY)}) ORDER BY entity_id",
                       {"before": BEFORE, "label_end": LABEL_END}).fetchall()


def test_customer_revenue_label_is_exact_in_any_order():
    big_first, double_big_first = _customer_labels(True)
    small_first, double_small_first = _customer_labels(False)
    assert double_big_first != double_small_first  # DOUBLE addition order matters for these amounts
    assert big_first == small_first == [("c1", COUNT + 1, EXPECTED), ("c2", 1, 0.0)]


def test_visitor_revenue_label_is_exact_in_any_order():
    # the device was still anonymous at the cutoff: the purchases count for it and for the user
    assert _visitor_labels(True) == _visitor_labels(False) == [("a1", COUNT + 1, EXPECTED), ("u1", COUNT + 1, EXPECTED)]
