"""Point-in-time visitor activity from ``clean_events``: what each visitor did before a day.

A visitor is a person as far as the events can tell: the ``user_id`` when logged in, else the user
a device (``anonymous_id``) was last seen logged in as, else the device itself. The device-to-user
map is built from the same events before ``$before`` only, so a login after the cutoff changes
nothing before it. Bot sessions (the metric layer's rule, ``lib.metrics.sources``) are left out.

Two readings: :func:`visitor_state_sql`, every column, over the whole history (the
purchase-propensity features, as of the day before a cutoff, in the weekly job), and
:func:`recent_visitor_state_sql`, the columns the daily intent segments and behaviour clusters use,
from the lookback's events (its cost follows the lookback, not the history).
"""

from __future__ import annotations

import duckdb

from shopverse_platform.lib.cleaning.dimensions import bot_rule_sql, sessions_current
from shopverse_platform.lib.warehouse.tables import table_exists
from shopverse_platform.lib.warehouse.shapes import relation
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql, table

# "Never" for the days-since columns: longer than any lookback the platform uses.
NEVER_DAYS = 365


def _events(con: duckdb.DuckDBPyConnection):
    """``clean_events``, or the empty relation of its shape (fixed text of lib/warehouse/shapes.py)."""
    found = relation(con, "clean_events")
    return table("clean_events") if found == "clean_events" else SqlText(found)


def human_events_sql(con: duckdb.DuckDBPyConnection) -> SqlText:
    """Events before ``$before`` outside bot sessions, each with its ``visitor_id``."""
    return load_sql(__file__, "human_events", events=_events(con), bot_rule=_bot_rule())


def _settings(con: duckdb.DuckDBPyConnection, lookback_days: int) -> None:
    lookback = int(lookback_days)
    if lookback < 1:
        raise ValueError("lookback_days must be at least 1")
    con.execute(load_sql(__file__, "visitor_state_settings"), {"lookback_days": lookback, "never_days": NEVER_DAYS})


def _bot_rule(events: str = "count(*)", first_ts: str = "min(event_ts)", last_ts: str = "max(event_ts)") -> SqlText:
    # bot_rule_sql builds the rule from these column expressions and the constants of
    # lib/cleaning/dimensions.py: code-made text without any value from outside, so it may be spliced.
    return SqlText(bot_rule_sql(events, first_ts, last_ts))


def visitor_state_sql(con: duckdb.DuckDBPyConnection, lookback_days: int) -> SqlText:
    """One row per visitor seen in the ``lookback_days`` before ``$before`` (exclusive).

    ``recent_*`` counts cover the lookback; ``*_7d`` the last 7 days; ``purchases_total`` and
    ``revenue_total`` the whole history before ``$before`` (a purchase re-sent under the same
    transaction id counts once); ``days_since_*`` count from the day before ``$before`` and are
    ``NEVER_DAYS`` when it never happened.

    The query's only parameter is ``$before``: the lookback is bound now, into the connection
    variable the query reads (``visitor_state_settings.sql``), so run the text on ``con`` before
    making another one with a different lookback.
    """
    _settings(con, lookback_days)
    return load_sql(__file__, "visitor_state", human_events=human_events_sql(con))


def recent_visitor_state_sql(con: duckdb.DuckDBPyConnection, lookback_days: int) -> SqlText:
    """One row per visitor seen in the ``lookback_days`` before ``$before`` (exclusive), read from
    the visitor observations of the lookback: ``visitor_id``, ``is_identified``, ``last_seen_date``,
    the ``recent_*`` counts and ``revenue_total``, as :func:`visitor_state_sql` gives them, with one
    difference: a device is the user it last logged in as *within the lookback* (whole history there).

    Bots are judged on all of a session's events, and ``revenue_total`` covers the whole history
    (the purchase observations): both are narrow reads of the history, the per-visitor grouping is
    the lookback's. Same parameter and settings as :func:`visitor_state_sql`. The observations are
    brought up to date first (``dimensions.update_visitor_observations``)."""
    _settings(con, lookback_days)
    activity = _observations(con, "visitor_observations")
    rule = _bot_rule("sum(events)", "min(first_ts)", "max(last_ts)")
    if sessions_current(con):
        bot_sessions = load_sql(__file__, "bot_sessions_from_sessions", activity=activity, bot_rule=rule)
    else:
        bot_sessions = load_sql(__file__, "bot_sessions_from_observations", activity=activity, bot_rule=rule)
    return load_sql(__file__, "recent_visitor_state", activity=activity,
                    purchases=_observations(con, "purchase_observations"), bot_sessions=bot_sessions)


def visitors_seen(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any visitor has been observed (the visitor observations hold a row): none in a shop
    whose event feed has sent nothing, such as one fed by order exports alone."""
    if not table_exists(con, "visitor_observations"):
        return False
    (seen,) = con.execute(load_sql(__file__, "visitors_seen", activity=table("visitor_observations"))).fetchone()
    return bool(seen)


def _observations(con: duckdb.DuckDBPyConnection, name: str):
    """An observations table (an error before the first update made it)."""
    if table_exists(con, name):
        return table(name)
    raise LookupError(f"{name} does not exist yet: call update_visitor_observations first")
