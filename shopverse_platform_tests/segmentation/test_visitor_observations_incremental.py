"""The visitor observations kept up to date from the changed partitions of clean_events equal the
observations built whole, row for row, through what a daily run or a rerun does to the events; and
the daily visitor state read from them then equals the state read from observations built whole.

The per-visitor meaning of the state (counts, bots judged on a whole session, revenue to date) is
checked against hand-made events and against the whole-history events query in
test_recent_visitor_state.py; here the question is only whether incremental equals whole."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest

from shopverse_platform.lib.cleaning.dimensions import update_visitor_observations
from shopverse_platform.lib.segmentation.visitors import recent_visitor_state_sql
from shopverse_platform.lib.warehouse import partition_fingerprints

D1, D2, D3, D4 = (date(2024, 3, 4) + timedelta(days=n) for n in range(4))
BEFORE = D4 + timedelta(days=1)
COLUMNS = ("partition_date DATE, event_id VARCHAR, event_name VARCHAR, event_ts TIMESTAMP, event_date DATE, "
           "user_id VARCHAR, anonymous_id VARCHAR, session_id VARCHAR, value DOUBLE, transaction_id VARCHAR, "
           "currency VARCHAR, items STRUCT(price DOUBLE, quantity INTEGER)[]")
OBSERVATIONS = ("visitor_observations", "purchase_observations")


def _at(day: date, minute: int) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)


def _insert(con, partition: date, rows: list[tuple]) -> None:
    """rows: (event_id, event_name, event_ts, user_id, anonymous_id, session_id, value, transaction_id)"""
    con.executemany("INSERT INTO clean_events VALUES (?, ?, ?, ?, CAST(? AS DATE), ?, ?, ?, ?, ?, 'EUR', ?)",
                    [(partition, e, n, ts, ts, u, a, s, v, t, [{"price": v, "quantity": 1}] if v else None)
                     for e, n, ts, u, a, s, v, t in rows])


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE clean_events ({COLUMNS})")
    _insert(con, D1, [
        ("a1", "page_view", _at(D1, 10), None, "d1", "s1", None, None),
        ("a2", "view_item", _at(D1, 11), None, "d1", "s1", None, None),
        ("a3", "add_to_cart", _at(D1, 12), "u1", "d1", "s1", None, None),  # logs in within the session
        ("a4", "purchase", _at(D1, 13), "u1", "d1", "s1", 30.0, "T1"),
        # s2 crosses D1's midnight: its events after it land with D2's partition
        ("b1", "page_view", _at(D1, 1435), None, "d2", "s2", None, None),
    ])
    _insert(con, D2, [
        ("b2", "view_item", _at(D2, 2), None, "d2", "s2", None, None),
        ("c1", "begin_checkout", _at(D2, 50), "u3", "d3", "s3", None, None),
    ] + [(f"x{i:02d}", "page_view", _at(D2, 60) + timedelta(seconds=i), None, "d9", "s9", None, None) for i in range(30)])
    yield con
    con.close()


def _kept(con) -> dict[str, list[tuple]]:
    kept = {name: con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall() for name in OBSERVATIONS}
    kept["state"] = con.execute(f"SELECT * FROM ({recent_visitor_state_sql(con, 28)}) ORDER BY ALL",
                                {"before": BEFORE}).fetchall()
    return kept


def _whole(con) -> dict[str, list[tuple]]:
    """The same events in a fresh database, the observations built whole."""
    fresh = duckdb.connect()
    fresh.execute(f"CREATE TABLE clean_events ({COLUMNS})")
    rows = con.execute("SELECT * FROM clean_events").fetchall()
    if rows:
        fresh.executemany(f"INSERT INTO clean_events VALUES ({', '.join('?' * len(rows[0]))})", rows)
    days = fresh.execute("SELECT count(DISTINCT partition_date) FROM clean_events").fetchone()[0]
    assert update_visitor_observations(fresh).mode == "; ".join(f"{name}: full ({days} partitions)" for name in OBSERVATIONS)
    kept = _kept(fresh)
    fresh.close()
    return kept


def _modes(build) -> list[str]:
    return [part.split(": ", 1)[1] for part in build.mode.split("; ")]


def test_observations_updated_from_changed_partitions_equal_a_whole_build(con):
    assert _modes(update_visitor_observations(con)) == ["full (2 partitions)"] * 2
    first = _kept(con)
    assert first == _whole(con)
    # s9 (30 events in 30 seconds) is a bot; u1 bought once for 30.0, d2's session is one across midnight
    state = {row[0]: row for row in first["state"]}
    assert set(state) == {"u1", "d2", "u3"}
    assert state["d2"][3:5] == (1, 2)  # one session, two active days
    assert state["u1"][-1] == 30.0

    assert _modes(update_visitor_observations(con)) == ["incremental (0 changed partitions)"] * 2

    # the next day lands: a late event of D2's s3, a new visit by u1, a re-sent purchase (same T1)
    _insert(con, D3, [
        ("c2", "add_to_cart", _at(D2, 55), "u3", "d3", "s3", None, None),
        ("e1", "page_view", _at(D3, 5), "u1", "d1", "s5", None, None),
        ("e2", "purchase", _at(D3, 6), "u1", "d1", "s5", 30.0, "T1"),
        ("e3", "purchase", _at(D3, 7), "u1", "d1", "s5", 12.5, "T2"),
    ])
    assert _modes(update_visitor_observations(con)) == ["incremental (1 changed partitions)"] * 2
    assert _kept(con) == _whole(con)

    # D1 cleaned again (what a writer does inside its transaction): an event gone, another changed
    con.execute("DELETE FROM clean_events WHERE event_id = 'a2'")
    con.execute("UPDATE clean_events SET value = 31.0 WHERE event_id = 'a4'")
    partition_fingerprints.record(con, "clean_events", D1, D2)
    assert _modes(update_visitor_observations(con)) == ["incremental (1 changed partitions)"] * 2
    assert _kept(con) == _whole(con)

    # a partition emptied by a rerun (new and emptied days need no record: the table's days are
    # compared with the fingerprinted ones), and a fourth day where s9 goes on two days later
    con.execute("DELETE FROM clean_events WHERE partition_date = ?", [D3])
    _insert(con, D4, [(f"y{i:02d}", "page_view", _at(D4, 1) + timedelta(seconds=i), None, "d9", "s9", None, None)
                      for i in range(3)])
    assert _modes(update_visitor_observations(con)) == ["incremental (2 changed partitions)"] * 2
    kept = _kept(con)
    assert kept == _whole(con)
    # T2 is gone with D3; T1's first delivery is a4, now 31.0; s9 is judged on all of its events:
    # 33 over two days is no bot's pace any more (one session, two active days, 33 page views)
    state = {row[0]: row for row in kept["state"]}
    assert state["u1"][-1] == 31.0
    assert state["d9"][1:6] == (False, D4, 1, 2, 33)


def test_order_lines_read_the_purchases_from_the_observations_only_when_current(con):
    from shopverse_platform.lib.metrics.sources import purchase_events

    columns = "event_id, event_ts, event_date, transaction_id, currency, items_amount"
    from_events = con.execute(f"SELECT {columns} FROM {purchase_events(con)} ORDER BY ALL").fetchall()
    assert [row[0] for row in from_events] == ["a4"] and from_events[0][-1] == 30.0
    update_visitor_observations(con)
    assert purchase_events(con) == "purchase_observations"
    assert con.execute(f"SELECT {columns} FROM purchase_observations ORDER BY ALL").fetchall() == from_events
    # a day cleaned (its writer records its fingerprint), not yet observed
    _insert(con, D3, [("e9", "purchase", _at(D3, 6), "u1", "d1", "s5", 12.5, "T9")])
    partition_fingerprints.record(con, "clean_events", D3, D4)
    assert purchase_events(con) != "purchase_observations"
    assert len(con.execute(f"SELECT {columns} FROM {purchase_events(con)}").fetchall()) == 2
