"""Money summed for segments is exact: ``intent_segments.revenue_total`` (and the value a visitor
carries into ``segment_snapshots``) is the same whatever order the purchases are added in.

One visitor bought once for 1,000,000,000.00 and thirty times for 0.10. Added as DOUBLE, the total
depends on the order of the additions (1,000,000,003.0000007 big-first, 1,000,000,003.0 small-first,
checked below on the same rows), and a parallel sum picks an order per run. The expectation is
computed independently with Decimal.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb

from shopverse_platform.lib.segmentation.intent import intent_segments_sql
from shopverse_platform.lib.cleaning.dimensions import update_visitor_observations

BEFORE = date(2026, 3, 1)
BIG, SMALL, COUNT = Decimal("1000000000.00"), Decimal("0.10"), 30
EXPECTED = BIG + SMALL * COUNT  # 1000000003.00


def _events(con: duckdb.DuckDBPyConnection, big_first: bool) -> None:
    values = [BIG] + [SMALL] * COUNT
    if not big_first:
        values.reverse()
    con.execute("CREATE OR REPLACE TABLE clean_events (event_id VARCHAR, event_name VARCHAR, event_ts TIMESTAMP, "
                "event_date DATE, user_id VARCHAR, anonymous_id VARCHAR, session_id VARCHAR, device VARCHAR, "
                "value DOUBLE, transaction_id VARCHAR, partition_date DATE, currency VARCHAR, "
                "items STRUCT(price DOUBLE, quantity INTEGER)[])")
    rows = []
    for n, value in enumerate(values):  # one purchase a day, each in its own session, all in the lookback
        ts = datetime(2026, 2, 27, 12) - timedelta(hours=n)
        rows.append([f"e{n}", "purchase", ts, ts.date(), "u1", "a1", f"s{n}", "desktop", float(value), f"t{n}", ts.date()])
    con.executemany("INSERT INTO clean_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)", rows)


def _segments(big_first: bool) -> tuple[list[tuple], float]:
    con = duckdb.connect()
    con.execute("SET threads = 1")  # the rows are added in the order they were inserted
    _events(con, big_first)
    double_sum = con.execute("SELECT sum(value) FROM clean_events").fetchone()[0]  # the old way
    update_visitor_observations(con)  # the purchase observations the segments read, in the same order
    rows = con.execute(f"SELECT * FROM ({intent_segments_sql(con, 30)}) ORDER BY visitor_id", {"before": BEFORE}).fetchall()
    return rows, double_sum


def test_intent_revenue_total_is_exact_in_any_order():
    big_first, double_big_first = _segments(True)
    small_first, double_small_first = _segments(False)
    assert double_big_first != double_small_first  # DOUBLE addition order matters for these purchases
    assert big_first == small_first
    [row] = big_first
    names = ["visitor_id", "as_of_date", "lookback_days", "intent_segment"]
    assert dict(zip(names, row[:4])) == {"visitor_id": "u1", "as_of_date": BEFORE - timedelta(days=1),
                                         "lookback_days": 30, "intent_segment": "converted"}
    con = duckdb.connect()
    revenue_total = row[-2]
    assert revenue_total == float(EXPECTED)
    # the snapshot's value of the visitor: rounded to cents from an exact total
    assert con.execute("SELECT CAST(?::DOUBLE AS DECIMAL(18,2))", [revenue_total]).fetchone()[0] == EXPECTED
