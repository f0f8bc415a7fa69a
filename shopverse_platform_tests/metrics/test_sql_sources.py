"""The metric layer's SQL files and the constructs that stand in for parameters where DuckDB takes none:
the window views' bounds (a view cannot take parameters) and column names picked by COLUMNS."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from shopverse_platform.lib.metrics import checks, sources, weekly
from shopverse_platform.lib.warehouse.shapes import EMPTY_CLEAN_EVENTS

METRICS_DIR = Path(sources.__file__).parent
D = date(2026, 3, 10)


def test_every_metric_sql_file_is_loaded_and_every_loaded_file_exists():
    loaded = {
        name
        for module in METRICS_DIR.glob("*.py")
        for name in re.findall(r'load_sql\(\s*__file__,\s*"([a-z0-9_]+)"', module.read_text())
    }
    files = {path.stem for path in METRICS_DIR.glob("*.sql")}
    assert files - loaded == set(), "sql files no module loads"
    assert loaded - files == set(), "loaded names without a file"


def test_weekly_kpis_unpivots_exactly_the_declared_kpis_in_order():
    text = (METRICS_DIR / "weekly_kpis.sql").read_text()
    unpivoted = re.search(r"FOR kpi IN \((.*?)\)\)", text, re.S).group(1)
    assert tuple(c.strip() for c in unpivoted.split(",")) == weekly.KPIS


def _events_table(con: duckdb.DuckDBPyConnection, days: list[int]) -> None:
    """One single-event session per day offset from D (event e<k> in session s<k>)."""
    con.execute(f"CREATE TABLE clean_events AS {EMPTY_CLEAN_EVENTS}")
    for k in days:
        ts = datetime(D.year, D.month, D.day, 12) + timedelta(days=k)
        con.execute(
            "INSERT INTO clean_events (event_id, event_name, event_ts, event_date, anonymous_id, session_id) "
            "VALUES (?, 'page_view', ?, ?, 'a', ?)",
            [f"e{k}", ts, ts.date(), f"s{k}"],
        )


def _ids(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> set[str]:
    return {r[0] for r in con.execute(f"SELECT {column} FROM {relation}").fetchall()}


def test_window_views_read_the_latest_window_one_day_either_side():
    con = duckdb.connect()
    _events_table(con, list(range(-3, 5)))

    sources.create_window_events(con, D, D + timedelta(days=1))  # reads [D - 1, D + 2)
    assert _ids(con, "_window_sessions", "session_id") == {"s-1", "s0", "s1"}
    assert _ids(con, "_window_events_flagged", "event_id") == {"e-1", "e0", "e1"}
    assert _ids(con, "_window_events", "event_id") == {"e-1", "e0", "e1"}

    # A second window on the same connection moves the views with the sessions.
    sources.create_window_events(con, D + timedelta(days=2), D + timedelta(days=4))  # reads [D + 1, D + 5)
    assert _ids(con, "_window_sessions", "session_id") == {"s1", "s2", "s3", "s4"}
    assert _ids(con, "_window_events_flagged", "event_id") == {"e1", "e2", "e3", "e4"}
    assert _ids(con, "_window_events", "event_id") == {"e1", "e2", "e3", "e4"}


def test_day_checks_read_the_named_column_only():
    con = duckdb.connect()
    # day_before, first, also matches the regular expression 'day': only the column named day may count.
    con.execute("CREATE TEMP TABLE _periods (day_before DATE, day DATE)")
    days = ["2026-03-10", "2026-03-10", "2026-03-11", "2026-03-12", "2026-03-12"]
    for day in days:
        con.execute("INSERT INTO _periods VALUES (CAST(? AS DATE) - 1, CAST(? AS DATE))", [day, day])

    passed, meta = checks.every_day_present(con, "_periods", "day", date(2026, 3, 10), date(2026, 3, 13), rows_per_day=2)
    assert not passed
    assert meta["periods_present"] == 3
    assert meta["periods_with_wrong_row_count"] == ["2026-03-11"]  # the only day with one row
    assert checks.every_day_present(con, "_periods", "day", date(2026, 3, 10), date(2026, 3, 13), rows_per_day=None)[0]

    passed, meta = checks.no_gaps(con, "_periods", "day")
    assert passed and (meta["first_day"], meta["last_day"], meta["days_present"]) == ("2026-03-10", "2026-03-12", 3)
    con.execute("DELETE FROM _periods WHERE day = DATE '2026-03-11'")
    passed, meta = checks.no_gaps(con, "_periods", "day")
    assert not passed and meta["missing_days"] == ["2026-03-11"]
