"""The windowed visitor state (intent segments, the clusters' site activity) against hand-made
events around the lookback's first day: what it keeps from the whole history and the one thing it
reads from the window only (the device-to-user map)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest

from shopverse_platform.lib.cleaning.dimensions import update_visitor_observations
from shopverse_platform.lib.segmentation.visitors import recent_visitor_state_sql, visitor_state_sql

BEFORE = date(2024, 3, 29)  # as of 2024-03-28
LOOKBACK = 28  # the window: 2024-03-01 .. 2024-03-28
COLUMNS = ("visitor_id, is_identified, last_seen_date, recent_sessions, recent_active_days, recent_page_views, "
           "recent_item_views, recent_cart_adds, recent_checkouts, recent_purchases, revenue_total")


def _events() -> list[tuple]:
    """(event_id, event_name, event_ts, user_id, anonymous_id, session_id, value, transaction_id)"""
    rows = [
        # d-x logged in as u-x only before the window, then browsed anonymously inside it
        ("x1", "page_view", datetime(2024, 2, 20, 10), "u-x", "d-x", "s-x1", None, None),
        ("x2", "view_item", datetime(2024, 3, 10, 10), None, "d-x", "s-x2", None, None),
        # u-y bought before the window (10.0), again inside it (5.0), and re-sent the first
        # purchase inside the window under the same transaction id (counts once, not recent)
        ("y1", "purchase", datetime(2024, 2, 1, 9), "u-y", "d-y", "s-y1", 10.0, "T-1"),
        ("y2", "purchase", datetime(2024, 3, 5, 9), "u-y", "d-y", "s-y2", 5.0, "T-2"),
        ("y3", "purchase", datetime(2024, 3, 6, 9), "u-y", "d-y", "s-y3", 10.0, "T-1"),
        # d-h: a human page view in the window, so the window is not empty of humans
        ("h1", "page_view", datetime(2024, 3, 20, 8), None, "d-h", "s-h1", None, None),
    ]
    # s-b: 40 events in 40 seconds across the window's first midnight, 20 on each side: a bot
    # judged on all of its events, not one judged on its 20 events inside the window
    start = datetime(2024, 2, 29, 23, 59, 40)
    rows += [(f"b{i:02d}", "page_view", start + timedelta(seconds=i), None, "d-b", "s-b", None, None) for i in range(40)]
    # u-z's purchase inside a bot session (45 events in a minute) is no purchase
    rows += [(f"z{i:02d}", "page_view", datetime(2024, 3, 12, 3, 0, i), "u-z", "d-z", "s-z", None, None) for i in range(44)]
    rows += [("z44", "purchase", datetime(2024, 3, 12, 3, 0, 44), "u-z", "d-z", "s-z", 99.0, "T-z")]
    return rows


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute("CREATE TABLE clean_events (event_id VARCHAR, event_name VARCHAR, event_ts TIMESTAMP, event_date DATE, "
                "user_id VARCHAR, anonymous_id VARCHAR, session_id VARCHAR, device VARCHAR, value DOUBLE, "
                "transaction_id VARCHAR, partition_date DATE, currency VARCHAR, items STRUCT(price DOUBLE, quantity INTEGER)[])")
    # landed the day after they happened: the observations are kept per landing partition
    con.executemany("INSERT INTO clean_events VALUES (?, ?, ?, CAST(? AS DATE), ?, ?, ?, 'desktop', ?, ?, CAST(? AS DATE) + 1, "
                    "NULL, NULL)",
                    [(e, n, ts, ts, u, a, s, v, t, ts) for e, n, ts, u, a, s, v, t in _events()])
    update_visitor_observations(con)
    yield con
    con.close()


def _state(con, sql) -> dict[str, tuple]:
    rows = con.execute(f"SELECT {COLUMNS} FROM ({sql}) ORDER BY visitor_id", {"before": BEFORE}).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_the_window_keeps_whole_history_bots_and_revenue_and_maps_devices_within_the_window(con):
    recent = _state(con, recent_visitor_state_sql(con, LOOKBACK))
    # the bot session across the midnight and the bot session's purchase are gone; d-x is its own
    # visitor (its only login was before the window)
    assert set(recent) == {"d-x", "d-h", "u-y"}
    # u-y: 2 sessions with events in the window (s-y2, s-y3), one recent purchase (T-1 is older),
    # 15.0 over the whole history
    assert recent["u-y"] == (True, date(2024, 3, 6), 2, 2, 0, 0, 0, 0, 1, 15.0)
    assert recent["d-x"] == (False, date(2024, 3, 10), 1, 1, 0, 1, 0, 0, 0, 0)
    assert recent["d-h"] == (False, date(2024, 3, 20), 1, 1, 1, 0, 0, 0, 0, 0)


def test_the_window_differs_from_the_whole_history_only_by_the_device_map(con):
    recent = _state(con, recent_visitor_state_sql(con, LOOKBACK))
    whole = _state(con, visitor_state_sql(con, LOOKBACK))
    # whole history: d-x's anonymous visit belongs to u-x, who logged in on it before the window
    assert set(whole) == {"u-x", "d-h", "u-y"}
    assert whole["u-x"] == (True, *recent["d-x"][1:])
    assert {k: v for k, v in whole.items() if k != "u-x"} == {k: v for k, v in recent.items() if k != "d-x"}


def test_the_sessions_verdicts_give_the_same_state_as_the_observations_and_only_when_current(con):
    from shopverse_platform.lib.cleaning.dimensions import build_sessions
    from shopverse_platform.lib.cleaning.dimensions import sessions_current

    judged_by_observations = _state(con, recent_visitor_state_sql(con, LOOKBACK))
    for column in ("country", "page", "referrer", "utm_source"):  # the rest of what sessions.sql reads
        con.execute(f"ALTER TABLE clean_events ADD COLUMN IF NOT EXISTS {column} VARCHAR")
    build_sessions(con)
    try:
        assert sessions_current(con)
        assert "FROM sessions WHERE is_bot" in recent_visitor_state_sql(con, LOOKBACK)
        # s-b (across the window's first midnight) and s-z are bots in sessions, judged on all their events
        assert _state(con, recent_visitor_state_sql(con, LOOKBACK)) == judged_by_observations
        # a day of the past: s-b is still going on at its end, judged on its events before it only:
        # 20 in 20 seconds before 2024-03-01, fewer than the rule's 30, so d-b is no bot as of then
        early = {"before": date(2024, 3, 1)}
        by_sessions = con.execute(f"SELECT {COLUMNS} FROM ({recent_visitor_state_sql(con, LOOKBACK)}) ORDER BY 1", early).fetchall()
        con.execute("ALTER TABLE sessions RENAME TO sessions_aside")
        by_rows = con.execute(f"SELECT {COLUMNS} FROM ({recent_visitor_state_sql(con, LOOKBACK)}) ORDER BY 1", early).fetchall()
        con.execute("ALTER TABLE sessions_aside RENAME TO sessions")
        assert by_sessions == by_rows
        assert {row[0]: row[3:6] for row in by_rows} == {"d-b": (1, 1, 20), "u-x": (1, 1, 1)}
        # an event cleaned after sessions was built: sessions is not current, the observations judge
        con.execute("INSERT INTO clean_events (event_id, event_name, event_ts, event_date, anonymous_id, session_id, "
                    "partition_date) VALUES ('h2', 'page_view', TIMESTAMP '2024-03-21 08:00:00', DATE '2024-03-21', "
                    "'d-h', 's-h2', DATE '2024-03-22')")
        update_visitor_observations(con)
        assert not sessions_current(con)
        assert "FROM sessions WHERE is_bot" not in recent_visitor_state_sql(con, LOOKBACK)
    finally:
        con.execute("DELETE FROM clean_events WHERE event_id = 'h2'")
        for name in ("sessions", "sessions_sources", "session_partitions"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        update_visitor_observations(con)
