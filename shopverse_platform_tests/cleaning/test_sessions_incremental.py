"""`sessions` kept up to date from the changed days of clean_events equals the table rebuilt whole
from them, row for row, through every kind of change a daily run or a rerun makes; and so do the
running aggregates kept beside it (`session_hours`, `busy_sessions`), against counts made here."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import duckdb
import pytest

from shopverse_platform.lib.cleaning import dimensions
from shopverse_platform.lib.cleaning.dimensions import FUNNEL_FLAGS, sessions_query
from shopverse_platform.lib.warehouse import partition_fingerprints
from shopverse_platform.lib.warehouse.column_docs import column_docs
from shopverse_platform.lib.warehouse.sql import table
from shopverse_platform_tests.conftest import column_comments

D1, D2, D3 = date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)
COLUMNS = ("partition_date DATE, event_id VARCHAR, session_id VARCHAR, anonymous_id VARCHAR, user_id VARCHAR, "
           "event_ts TIMESTAMP, event_name VARCHAR, value DOUBLE, device VARCHAR, country VARCHAR, "
           "utm_source VARCHAR, referrer VARCHAR, page VARCHAR")


def _event(day: date, n: int, session: str, minute: int, name: str = "page_view", value: float | None = None):
    ts = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)
    return (day, f"{session}-{day}-{n}", session, f"dev-{session}", None, ts, name, value, "mobile", "GB", None, None, "/")


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE clean_events ({COLUMNS})")
    rows = [
        _event(D1, 1, "a", 60), _event(D1, 2, "a", 62, "view_item"), _event(D1, 3, "a", 65, "purchase", 30.0),
        _event(D1, 4, "b", 23 * 60 + 50),  # b crosses midnight into D2
        _event(D2, 1, "b", 5, "add_to_cart"), _event(D2, 2, "c", 600), _event(D2, 3, "c", 601, "view_item"),
        # z: ten events in ten minutes, a busy session (at least 10 events)
        *[_event(D1, 10 + n, "z", 300 + n) for n in range(10)],
        # y: 40 events within one minute, a bot (busy too): counted in its hour's sessions, not in its humans
        *[(D2, f"y-{D2}-{n}", "y", "dev-y", None, datetime.combine(D2, datetime.min.time()) + timedelta(hours=3, seconds=n),
           "page_view", None, "desktop", "GB", None, None, "/") for n in range(40)],
    ]
    con.executemany(f"INSERT INTO clean_events VALUES ({', '.join('?' * 13)})", rows)
    yield con
    con.close()


def _full(con) -> list[tuple]:
    return con.execute(f"SELECT * FROM ({sessions_query(table('clean_events'))}) ORDER BY ALL", FUNNEL_FLAGS).fetchall()


def _rewritten(con, day: date) -> None:
    """What clean_events' writers do in the transaction that rewrites a day: record its fingerprint."""
    partition_fingerprints.record(con, "clean_events", day, day + timedelta(days=1))


def _kept(con) -> list[tuple]:
    return con.execute("SELECT * FROM sessions ORDER BY ALL").fetchall()


def _aggregates_match(con) -> bool:
    """session_hours and busy_sessions as the sessions rebuilt whole give them, counted here."""
    full = con.execute(f"SELECT session_id, session_start, events, is_bot FROM ({sessions_query(table('clean_events'))})",
                       FUNNEL_FLAGS).fetchall()
    hour = lambda ts: ts.replace(minute=0, second=0, microsecond=0)  # noqa: E731
    every = Counter(hour(start) for _, start, _, _ in full)
    human = Counter(hour(start) for _, start, _, bot in full if not bot)
    hours = sorted((h, every[h], human[h]) for h in every)
    busy = sorted(session for session, _, events, _ in full if events >= dimensions.BUSY_SESSION_MIN_EVENTS)
    return (con.execute("SELECT hour_ts, sessions, human_sessions FROM session_hours ORDER BY hour_ts").fetchall() == hours
            and [r[0] for r in con.execute("SELECT session_id FROM busy_sessions ORDER BY 1").fetchall()] == busy)


def test_sessions_updated_from_changed_days_equal_a_rebuild(con):
    assert dimensions.build_sessions(con) == "full"  # no state yet
    assert _kept(con) == _full(con) and len(_kept(con)) == 5
    assert _aggregates_match(con)
    assert sorted(con.execute("SELECT session_id FROM busy_sessions").fetchall()) == [("y",), ("z",)]
    assert con.execute("SELECT sessions, human_sessions FROM session_hours WHERE hour_ts = ?",
                       [datetime(2024, 3, 5, 3)]).fetchone() == (1, 0)

    # nothing changed: nothing recomputed
    assert dimensions.build_sessions(con) == "incremental (0 changed partitions, 0 sessions recomputed)"

    # a new day, continuing session c (crossing midnight) and starting d
    # (c gets eight more events: eleven in all, busy now)
    con.executemany(f"INSERT INTO clean_events VALUES ({', '.join('?' * 13)})",
                    [_event(D3, 1, "c", 0, "purchase", 12.5), _event(D3, 2, "d", 30),
                     *[_event(D3, 3 + n, "c", 1 + n) for n in range(8)]])
    assert dimensions.build_sessions(con) == "incremental (1 changed partitions, 2 sessions recomputed)"
    assert _kept(con) == _full(con)
    assert _aggregates_match(con)
    assert {r[0] for r in con.execute("SELECT session_id FROM busy_sessions").fetchall()} == {"z", "c", "y"}
    assert con.execute("SELECT session_end, purchased FROM sessions WHERE session_id = 'c'").fetchone() == (
        datetime(2024, 3, 6, 0, 8), True)

    # D1 re-cleaned: an event removed, and one moved to another session (a sessionisation change)
    con.execute("DELETE FROM clean_events WHERE event_id = 'a-2024-03-04-2'")
    con.execute("UPDATE clean_events SET session_id = 'e' WHERE event_id = 'b-2024-03-04-4'")
    # and z loses an event: nine, not busy any more; its hour (05:00 of D1) keeps no session
    con.execute("DELETE FROM clean_events WHERE event_id = 'z-2024-03-04-10'")
    con.execute("UPDATE clean_events SET event_ts = event_ts + INTERVAL 2 HOUR WHERE session_id = 'z'")
    _rewritten(con, D1)
    assert dimensions.build_sessions(con).startswith("incremental (1 changed partitions, 4 sessions")  # a, b, e, z
    assert _kept(con) == _full(con)
    assert _aggregates_match(con)
    assert con.execute("SELECT count(*) FROM session_hours WHERE hour_ts = ?", [datetime(2024, 3, 4, 5)]).fetchone() == (0,)
    assert {r[0] for r in con.execute("SELECT session_id FROM busy_sessions").fetchall()} == {"c", "y"}

    # D2 emptied (no writer recorded it: a day gone is seen by comparing the table's days with the
    # fingerprinted ones, as a new day is above): session b loses its last event and goes
    con.execute("DELETE FROM clean_events WHERE partition_date = ?", [D2])
    assert dimensions.build_sessions(con).startswith("incremental (1 changed partitions")
    assert _kept(con) == _full(con)
    assert "b" not in {r[0] for r in _kept(con)}
    assert _aggregates_match(con)
    assert con.execute("SELECT count(*) FROM session_partitions WHERE partition_date = ?", [D2]).fetchone() == (0,)


def test_an_edit_outside_the_writers_is_seen_once_its_fingerprint_is_dropped(con):
    """A day changed in place by hand (not by a writer) keeps its recorded fingerprint, so the
    sessions do not move; deleting the day's fingerprint row (docs/operations.md) has the next build
    fingerprint it from the table and recompute its sessions."""
    dimensions.build_sessions(con)
    con.execute("UPDATE clean_events SET event_name = 'purchase', value = 9.0 WHERE event_id = 'c-2024-03-05-2'")
    assert dimensions.build_sessions(con) == "incremental (0 changed partitions, 0 sessions recomputed)"
    assert _kept(con) != _full(con)
    con.execute("DELETE FROM partition_fingerprints WHERE table_name = 'clean_events' AND partition_date = ?", [D2])
    assert dimensions.build_sessions(con).startswith("incremental (1 changed partitions")
    assert _kept(con) == _full(con)
    assert _aggregates_match(con)


def test_a_warehouse_without_the_state_is_rebuilt_whole(con):
    dimensions.build_sessions(con)
    con.execute("DROP TABLE sessions_sources")  # a warehouse from before the state tables
    con.execute("DELETE FROM clean_events WHERE session_id = 'a'")
    assert dimensions.build_sessions(con) == "full"
    assert _kept(con) == _full(con)


def test_a_warehouse_from_before_the_running_aggregates_is_rebuilt_whole(con):
    dimensions.build_sessions(con)
    con.execute("DROP TABLE session_hours")
    con.execute("DROP TABLE busy_sessions")
    assert dimensions.build_sessions(con) == "full"
    assert _kept(con) == _full(con) and _aggregates_match(con)


def test_a_sessions_table_of_other_columns_is_rebuilt_whole(con):
    """A release that changes sessions.sql: the stored table's columns are not the query's any more."""
    dimensions.build_sessions(con)
    con.execute("ALTER TABLE sessions DROP COLUMN country")
    assert dimensions.build_sessions(con) == "full"
    assert _kept(con) == _full(con)
    assert dimensions.build_sessions(con, full=True) == "full"


def test_the_tables_a_build_creates_carry_their_column_descriptions(con):
    """A build that creates a table anew (all five in a full build; sessions_sources, the
    fingerprints, whenever a day changed) writes its columns' descriptions in the same transaction:
    a CREATE OR REPLACE drops them, and nothing after the build is needed to put them back."""
    docs = column_docs()

    def described(tables) -> bool:
        comments = column_comments(con, tables)
        return all(comments.get((t, c)) == text for t in tables for c, text in docs[t].items())

    assert dimensions.build_sessions(con) == "full"
    assert described(dimensions.SESSION_TABLES)
    con.execute("COMMENT ON COLUMN sessions_sources.partition_date IS 'stale'")
    con.execute(f"INSERT INTO clean_events VALUES ({', '.join('?' * 13)})", _event(D3, 1, "d", 30))  # a new day
    assert dimensions.build_sessions(con).startswith("incremental (1 changed partitions")
    assert described(dimensions.SESSION_TABLES)
