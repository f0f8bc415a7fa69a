"""``anomalies``: traffic spikes and drops, unusual orders, bots and hyperactive sessions, revenue drops.

Whole history, rebuilt on every run: a baseline looks at weeks on both sides of the day it judges,
so a day's verdict can change when the following weeks arrive. Every row says how it was found
(``method``), what was seen against what was expected, the ``score`` and the ``threshold`` it crossed.
Severity: ``high`` when |score| >= 1.4 x threshold, ``medium`` >= 1.2 x, else ``low``.

- Traffic: sessions started per UTC hour (bots excluded) against the median of the same hour and
  weekday in the three weeks before and after (>= 2 of them); spread = max(1.4826 MAD,
  sqrt(baseline) + 1 (Poisson noise of small counts), 10 % of baseline (trend and weekday drift)).
- Unusual orders: the order's value as a multiple of the shop's 99th percentile (per source, from
  >= 100 orders: a quantile fence, unmoved by the few giants it must catch; order values are too
  heavy-tailed for a z-score to keep one threshold across shops) and, when the customer has >= 2
  other orders, a robust z of its log value against theirs (spread at least 0.5, a factor 1.65).
- Bots: sessions of >= 30 events at >= 30 events a minute. Hyperactive: other sessions of >= 10
  events whose events per minute lie far above all such sessions (robust z of the log).
- Revenue drops: log(1 + daily net revenue) against the median of the same weekday in the four weeks
  either side (spread at least 0.25, so a drop is below ~37 % of usual); days with a zero baseline
  (a shop closed on Saturdays) are not judged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb

from shopverse_platform.lib.cleaning.dimensions import (
    BOT_EVENTS_PER_MINUTE,
    BOT_MIN_EVENTS,
    BUSY_SESSION_MIN_EVENTS,
    session_hours_sql,
)
from shopverse_platform.lib.metrics.sources import replace_whole, session_stats
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql, table
from shopverse_platform.lib.warehouse.tables import table_exists


@dataclass(frozen=True)
class AnomalyThresholds:
    traffic_score: float = 5.0
    order_shop_ratio: float = 5.0
    order_customer_score: float = 3.0
    hyperactive_score: float = 6.0
    revenue_drop_score: float = 4.0


def anomalies_sql(con: duckdb.DuckDBPyConnection, from_sessions: bool = False) -> SqlText:
    """``anomalies.sql`` over the sessions; its parameters are :func:`anomalies_params`.

    The sessions are read as two running aggregates the sessions' build keeps beside them,
    ``session_hours`` (sessions started per hour) and ``busy_sessions`` (the sessions of at least
    ``BUSY_SESSION_MIN_EVENTS`` events): a read that grows with the hours and the busy sessions, not
    with every session (1.58 M sessions, 146 k busy, at 240 days of 34 k events a day). Before the
    sessions' build made them (a warehouse from before them, no sessions yet), or with
    ``from_sessions``, both are computed here from every session (:func:`session_stats`): the
    same rows (tests/metrics/test_anomalies.py)."""
    if not from_sessions and all(table_exists(con, name) for name in ("sessions", "session_hours", "busy_sessions")):
        hours, busy = table("session_hours"), session_stats(con, "busy_sessions")
    else:
        every = session_stats(con)
        hours, busy = SqlText(f"({session_hours_sql(every)})"), every  # anomalies.sql keeps the busy ones itself
    return load_sql(__file__, "anomalies", session_hours=hours, busy_sessions=busy)


def anomalies_params(t: AnomalyThresholds) -> dict[str, float]:
    """The thresholds ``anomalies.sql`` binds: the configured ones, the bot rule's events per minute
    and the least events of a busy session."""
    return {name: float(value) for name, value in {**asdict(t), "bot_events_per_minute": BOT_EVENTS_PER_MINUTE,
                                                   "busy_min_events": BUSY_SESSION_MIN_EVENTS}.items()}


def build_anomalies(con: duckdb.DuckDBPyConnection, thresholds: AnomalyThresholds | None = None) -> int:
    return replace_whole(con, "anomalies", anomalies_sql(con), anomalies_params(thresholds or AnomalyThresholds()))


def thresholds_metadata(thresholds: AnomalyThresholds) -> dict[str, float]:
    return {**asdict(thresholds), "bot_events_per_minute": BOT_EVENTS_PER_MINUTE, "bot_min_events": BOT_MIN_EVENTS}
