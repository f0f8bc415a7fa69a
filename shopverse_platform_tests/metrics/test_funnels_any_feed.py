"""Funnels follow the events a shop emits: hand-built feeds without checkout events, with only views and
purchases, and the simulator's full feed. Expectations are counted by hand (the small feeds) or walked
session by session in pandas (the simulator), never with the SQL under test."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from shopverse_platform.lib.metrics import traffic
from shopverse_platform.lib.metrics.sources import PURCHASE_FUNNEL
from shopverse_platform.lib.reports import data as report_data
from shopverse_platform.lib.reports import insights as ins
from shopverse_platform.lib.warehouse.shapes import EMPTY_CLEAN_EVENTS

DAY = date(2024, 5, 6)
WINDOW = (DAY, DAY + timedelta(days=2))  # the second day has no session: rows of zeros


def feed(con: duckdb.DuckDBPyConnection, sessions: dict[str, list[str]]) -> None:
    """``clean_events`` with one session per entry, its events one minute apart from 10:00 on DAY,
    landed on DAY (its partition)."""
    con.execute(f"CREATE TABLE clean_events AS SELECT NULL::DATE AS partition_date, * FROM ({EMPTY_CLEAN_EVENTS})")
    for n, (session, names) in enumerate(sessions.items()):
        for i, name in enumerate(["session_start", *names]):
            ts = datetime(2024, 5, 6, 10 + n, i)
            con.execute(
                "INSERT INTO clean_events (partition_date, event_id, event_name, event_ts, event_date, anonymous_id, "
                "session_id, device, country) VALUES (?, ?, ?, ?, ?, ?, ?, 'desktop', 'GB')",
                [ts.date(), f"{session}-{i}", name, ts, ts.date(), f"dev-{session}", session])


def funnel(con: duckdb.DuckDBPyConnection, day: date = DAY, name: str = "purchase") -> list[tuple]:
    return con.execute(
        "SELECT step_number, step, sessions, open_sessions, open_conversion_rate FROM funnel_daily "
        "WHERE funnel_date = ? AND funnel = ? ORDER BY step_number", [day, name]).fetchall()


# A GA4-style feed without checkout events: view -> add_to_cart -> purchase.
NO_CHECKOUT = {
    "s1": ["view_item", "add_to_cart", "purchase"],  # the whole journey
    "s2": ["view_item", "add_to_cart"],
    "s3": ["view_item"],
    "s4": ["add_to_cart", "view_item", "purchase"],  # added before viewing: in order it only viewed
    "s5": ["page_view"],
}


def test_a_feed_without_checkout_events_gets_view_cart_purchase():
    con = duckdb.connect()
    feed(con, NO_CHECKOUT)
    assert traffic.funnel_steps(con) == (("session_start", "view_item", "add_to_cart", "purchase"), ())
    traffic.build_funnel_daily(con, *WINDOW)
    # closed: start s1-s5, view s1-s4, cart in order s1 s2, purchase in order s1
    # open: cart s1 s2 s4, purchase s1 s4; steps keep their journey numbers (purchase is 6)
    assert funnel(con) == [
        (1, "session_start", 5, 5, 1.0), (2, "view_item", 4, 4, 0.8), (3, "add_to_cart", 2, 3, 0.6),
        (6, "purchase", 1, 2, 0.4)]
    assert funnel(con, name="checkout") == []
    assert funnel(con, DAY + timedelta(days=1)) == [
        (1, "session_start", 0, 0, None), (2, "view_item", 0, 0, None), (3, "add_to_cart", 0, 0, None),
        (6, "purchase", 0, 0, None)]
    assert traffic.funnel_rows_per_day(con) == 4
    rates = con.execute("SELECT conversion_from_previous, drop_off_rate FROM funnel_daily WHERE funnel_date = ? "
                        "ORDER BY step_number", [DAY]).fetchall()
    assert rates == [(None, None), (0.8, pytest.approx(0.2)), (0.5, 0.5), (0.5, 0.5)]


def test_the_report_of_a_feed_without_checkout_names_only_its_steps():
    con = duckdb.connect()
    feed(con, NO_CHECKOUT)
    traffic.build_funnel_daily(con, *WINDOW)
    data = report_data.load(con, report_data.Period.day(DAY))
    assert data.totals["conversion_rate"] == pytest.approx(2 / 5)  # s1 and s4 bought, of 5 sessions
    insight = ins.funnel_drop(data.funnel)
    # view -> cart 4 -> 2 and cart -> purchase 2 -> 1 both lose 50 %: the earlier step is named
    assert insight.text == ("The biggest drop-off is view item → add to cart: 50% of sessions do not continue "
                            "(4 → 2); 40.0% of sessions end in a purchase")
    assert "checkout" not in insight.text and "payment" not in insight.text


def test_a_feed_of_views_and_purchases_only():
    con = duckdb.connect()
    feed(con, {
        "s1": ["view_item", "purchase"],
        "s2": ["view_item"],
        "s3": ["purchase"],  # bought without a product view
        "s4": ["page_view", "page_view"],
    })
    assert traffic.funnel_steps(con) == (("session_start", "view_item", "purchase"), ())
    traffic.build_funnel_daily(con, *WINDOW)
    assert funnel(con) == [(1, "session_start", 4, 4, 1.0), (2, "view_item", 2, 2, 0.5), (6, "purchase", 1, 2, 0.5)]
    data = report_data.load(con, report_data.Period.day(DAY))
    assert data.totals["conversion_rate"] == pytest.approx(0.5)
    assert ins.funnel_drop(data.funnel).text == (
        "The biggest drop-off is session start → view item: 50% of sessions do not continue (4 → 2); "
        "50.0% of sessions end in a purchase")


def test_a_checkout_funnel_exists_only_with_checkout_events():
    con = duckdb.connect()
    feed(con, {"s1": ["view_item", "add_to_cart", "begin_checkout", "purchase"], "s2": ["begin_checkout"]})
    # no add_payment_info anywhere: the step is left out of both funnels
    purchase, checkout = traffic.funnel_steps(con)
    assert purchase == ("session_start", "view_item", "add_to_cart", "begin_checkout", "purchase")
    assert checkout == ("begin_checkout", "purchase")
    traffic.build_funnel_daily(con, *WINDOW)
    assert funnel(con, name="checkout") == [(1, "begin_checkout", 2, 2, 1.0), (3, "purchase", 1, 1, 0.5)]


def test_the_steps_follow_the_days_that_change():
    """The steps a shop emits are read from per-day event names kept from the changed days: a day
    landing the first checkout event adds the checkout funnel, and a day re-cleaned without it (the
    writer records its fingerprint) or gone takes it away again."""
    from shopverse_platform.lib.warehouse import partition_fingerprints

    con = duckdb.connect()
    feed(con, NO_CHECKOUT)
    assert traffic.funnel_steps(con)[1] == ()
    later = DAY + timedelta(days=3)
    con.execute("INSERT INTO clean_events (partition_date, event_id, event_name, event_ts, event_date, anonymous_id, "
                "session_id) VALUES (?, 'c-1', 'begin_checkout', ?, ?, 'dev-c', 'c')",
                [later, datetime.combine(later, datetime.min.time()), later])
    assert traffic.funnel_steps(con)[1] == ("begin_checkout", "purchase")
    # the day cleaned again: its checkout event is a page view now, and the writer records the day
    con.execute("UPDATE clean_events SET event_name = 'page_view' WHERE event_id = 'c-1'")
    partition_fingerprints.record(con, "clean_events", later, later + timedelta(days=1))
    assert traffic.funnel_steps(con)[1] == ()
    con.execute("UPDATE clean_events SET event_name = 'begin_checkout' WHERE event_id = 'c-1'")
    partition_fingerprints.record(con, "clean_events", later, later + timedelta(days=1))
    assert traffic.funnel_steps(con)[1] == ("begin_checkout", "purchase")
    con.execute("DELETE FROM clean_events WHERE partition_date = ?", [later])  # the day gone
    assert traffic.funnel_steps(con)[1] == ()
    assert con.execute("SELECT count(DISTINCT partition_date) FROM event_name_observations").fetchone() == (1,)


def _walk(events: pd.DataFrame, steps: list[str]) -> pd.Series:
    """How far each session got through ``steps`` in order, walked event by event (0: none)."""
    position = {step: i + 1 for i, step in enumerate(steps)}
    events = events[events.event_name.isin(position)].assign(pos=lambda f: f.event_name.map(position))
    reached: dict[str, int] = {}
    for session, pos in events.sort_values(["session_id", "event_ts", "pos"])[["session_id", "pos"]].itertuples(index=False):
        if pos == reached.get(session, 0) + 1:
            reached[session] = pos
        else:
            reached.setdefault(session, 0)
    return pd.Series(reached, dtype="int64")


def test_the_simulators_full_feed_keeps_its_closed_funnel(tmp_path):
    from shopverse_platform.defs.cleaning.assets import clean_events, sessions
    from shopverse_platform.defs.ingestion.assets import raw_events
    from shopverse_platform.defs.resources import LandingZone, Warehouse
    from shopverse_platform.lib.simulator.traffic import simulate
    from shopverse_platform_tests.conftest import materialize_range

    start, days = date(2026, 3, 2), 2
    simulate(tmp_path / "landing", users=1500, days=days, start=start, seed=11)
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=str(tmp_path / "landing"))}
    assert materialize_range([raw_events, clean_events, sessions], resources, str(start),
                             str(start + timedelta(days=days - 1))).success
    end = start + timedelta(days=days)
    with warehouse.connect() as con:
        assert traffic.funnel_steps(con) == (PURCHASE_FUNNEL, ("begin_checkout", "add_payment_info", "purchase"))
        traffic.build_funnel_daily(con, start, end)
        got = con.execute("SELECT funnel_date, funnel, step, sessions, open_sessions FROM funnel_daily "
                          "ORDER BY funnel_date, funnel DESC, step_number").df()
        people = con.execute("SELECT session_id, session_date FROM sessions WHERE NOT is_bot "
                             "AND session_date >= ? AND session_date < ?", [start, end]).df()
        events = con.execute("SELECT session_id, event_name, event_ts FROM clean_events "
                             "WHERE event_date >= ? AND event_date <= ?", [start - timedelta(days=1), end]).df()
    events = events[events.session_id.isin(people.session_id)]
    purchase_steps, checkout_steps = list(PURCHASE_FUNNEL), ["begin_checkout", "add_payment_info", "purchase"]
    progress = people.set_index("session_id").assign(
        purchase=_walk(events, purchase_steps[1:]), checkout=_walk(events, checkout_steps)).fillna(0)
    emitted = events.groupby("session_id").event_name.agg(set)
    rows = []
    for day, group in progress.groupby("session_date"):
        for name, steps, shift in (("purchase", purchase_steps, 1), ("checkout", checkout_steps, 0)):
            for i, step in enumerate(steps, start=1):
                opened = sum(step == "session_start" or step in emitted.get(s, set()) for s in group.index)
                rows.append((pd.Timestamp(day), name, step, int((group[name] >= i - shift).sum()), opened))
    expected = pd.DataFrame(rows, columns=got.columns)
    assert len(got) == 9 * days and len(people) > 100
    pd.testing.assert_frame_equal(got.assign(funnel_date=pd.to_datetime(got.funnel_date)), expected, check_dtype=False)
    # the open funnel never counts fewer sessions than the closed one at a step
    assert (got.open_sessions >= got.sessions).all() and got[got.step == "purchase"].sessions.sum() > 0
