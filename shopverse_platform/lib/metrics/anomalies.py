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
)
from shopverse_platform.lib.metrics.sources import replace_whole, session_stats
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql


@dataclass(frozen=True)
class AnomalyThresholds:
    traffic_score: float = 5.0
    order_shop_ratio: float = 5.0
    order_customer_score: float = 3.0
    hyperactive_score: float = 6.0
    revenue_drop_score: float = 4.0


def anomalies_sql(sessions: SqlText) -> SqlText:
    """``anomalies.sql`` over ``sessions`` (see :func:`session_stats`); its parameters are
    :func:`anomalies_params`."""
    return load_sql(__file__, "anomalies", sessions=sessions)


def anomalies_params(t: AnomalyThresholds) -> dict[str, float]:
    """The thresholds ``anomalies.sql`` binds: the configured ones and the bot rule's events per minute."""
    return {name: float(value) for name, value in {**asdict(t), "bot_events_per_minute": BOT_EVENTS_PER_MINUTE}.items()}


def build_anomalies(con: duckdb.DuckDBPyConnection, thresholds: AnomalyThresholds | None = None) -> int:
    sql = anomalies_sql(session_stats(con))
    return replace_whole(con, "anomalies", sql, anomalies_params(thresholds or AnomalyThresholds()))


def thresholds_metadata(thresholds: AnomalyThresholds) -> dict[str, float]:
    return {**asdict(thresholds), "bot_events_per_minute": BOT_EVENTS_PER_MINUTE, "bot_min_events": BOT_MIN_EVENTS}
