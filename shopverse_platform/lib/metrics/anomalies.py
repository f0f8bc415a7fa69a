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
from shopverse_platform.lib.metrics.sources import session_stats
from shopverse_platform.lib.warehouse.tables import replace_table


@dataclass(frozen=True)
class AnomalyThresholds:
    traffic_score: float = 5.0
    order_shop_ratio: float = 5.0
    order_customer_score: float = 3.0
    hyperactive_score: float = 6.0
    revenue_drop_score: float = 4.0


def _severity(score: str, threshold: str) -> str:
    return (
        f"CASE WHEN abs({score}) >= 1.4 * {threshold} THEN 'high' "
        f"WHEN abs({score}) >= 1.2 * {threshold} THEN 'medium' ELSE 'low' END"
    )


def _row(kind, date, ts, source, entity_type, entity_id, method, observed, expected, score, threshold, detail) -> str:
    return f"""SELECT md5({kind} || '|' || {entity_id}) AS anomaly_id, {kind} AS anomaly_type, CAST({date} AS DATE) AS anomaly_date,
        CAST({ts} AS TIMESTAMP) AS anomaly_ts, CAST({source} AS VARCHAR) AS source, {entity_type} AS entity_type,
        CAST({entity_id} AS VARCHAR) AS entity_id, {method} AS method, CAST({observed} AS DOUBLE) AS observed,
        CAST({expected} AS DOUBLE) AS expected, CAST({score} AS DOUBLE) AS score, CAST({threshold} AS DOUBLE) AS threshold,
        {_severity(score, threshold)} AS severity, CAST({detail} AS VARCHAR) AS detail"""


def anomalies_sql(sessions: str, t: AnomalyThresholds) -> str:
    return f"""
WITH sess_rated AS (SELECT * FROM {sessions}),
-- traffic: sessions started per hour over every hour of the observed days
hours AS (
    SELECT range AS hour_ts FROM (SELECT min(session_start) AS lo, max(session_start) AS hi FROM sess_rated),
         range(date_trunc('day', lo), date_trunc('day', hi) + INTERVAL 1 DAY, INTERVAL 1 HOUR)
    WHERE lo IS NOT NULL
),
hourly AS (
    SELECT h.hour_ts, count(s.session_id) AS sessions
    FROM hours h LEFT JOIN sess_rated s ON date_trunc('hour', s.session_start) = h.hour_ts AND NOT s.is_bot
    GROUP BY h.hour_ts
),
traffic AS (
    SELECT h.hour_ts, any_value(h.sessions) AS observed, median(r.sessions) AS baseline, mad(r.sessions) AS mad,
           count(r.sessions) AS reference_count
    FROM hourly h
    CROSS JOIN (VALUES (-21), (-14), (-7), (7), (14), (21)) o(days)
    JOIN hourly r ON r.hour_ts = h.hour_ts + to_days(o.days)
    GROUP BY h.hour_ts HAVING count(r.sessions) >= 2
),
traffic_scored AS (
    SELECT *, (observed - baseline) / greatest(1.4826 * mad, sqrt(baseline) + 1, 0.1 * baseline) AS score FROM traffic
),
-- orders: log value against the shop (per source) and the customer's other orders
o AS (
    SELECT source, document_id, order_date, order_ts, customer_id, gross_amount, CAST(gross_amount AS DOUBLE) AS value,
           ln(CAST(gross_amount AS DOUBLE)) AS lv
    FROM orders WHERE is_order AND gross_amount > 0
),
shop AS (  -- the fence: what 99 % of the source's orders stay below (needs >= 100 orders)
    SELECT source, quantile_cont(value, 0.99) AS p99 FROM o GROUP BY source HAVING count(*) >= 100
),
customer AS (
    SELECT a.source, a.document_id, count(b.lv) AS others, median(b.lv) AS med, mad(b.lv) AS mad
    FROM o a JOIN o b ON a.source = b.source AND a.customer_id = b.customer_id AND a.document_id <> b.document_id
    GROUP BY a.source, a.document_id
),
credited AS (
    SELECT source, order_id, sum(credited_amount) AS credited, min(order_date) AS first_credit
    FROM order_lines WHERE document_type <> 'order' AND order_id IS NOT NULL AND is_sales GROUP BY ALL
),
orders_scored AS (
    SELECT o.*, shop.p99 AS shop_p99, o.value / shop.p99 AS shop_ratio,
           coalesce(c.others, 0) AS customer_orders, exp(c.med) AS customer_median,
           CASE WHEN c.others >= 2 THEN (o.lv - c.med) / greatest(1.4826 * c.mad, 0.5) END AS customer_score,
           coalesce(cr.credited, 0) AS credited, cr.first_credit
    FROM o JOIN shop USING (source)
    LEFT JOIN customer c USING (source, document_id)
    LEFT JOIN credited cr ON cr.source = o.source AND cr.order_id = o.document_id
),
unusual_orders AS (
    SELECT * FROM orders_scored
    WHERE shop_ratio >= {t.order_shop_ratio} AND (customer_score IS NULL OR customer_score >= {t.order_customer_score})
),
-- a credit of exactly the order's value by the same customer afterwards cancels it even when the
-- export did not link it line by line (e.g. a whole invoice reversed by one manual line)
matching_credit AS (
    SELECT u.source, u.document_id, arg_min(c.document_id, c.order_ts) AS credit_id, min(c.order_date) AS credit_date
    FROM unusual_orders u JOIN orders c
      ON c.source = u.source AND c.customer_id = u.customer_id AND c.is_credit
     AND c.credited_amount = u.gross_amount AND c.order_ts >= u.order_ts
    GROUP BY ALL
),
-- sessions: events per minute
busy AS (SELECT * FROM sess_rated WHERE events >= 10 AND NOT is_bot),
busy_norm AS (  -- a norm needs a population: fewer than 30 busy sessions judge nothing
    SELECT median(ln(epm)) AS med, greatest(mad(ln(epm)), 0.05) AS mad FROM busy HAVING count(*) >= 30
),
-- revenue: net revenue per day over every day of the observed span
days AS (
    SELECT CAST(range AS DATE) AS day FROM (SELECT min(order_date) AS lo, max(order_date) AS hi FROM orders),
         range(CAST(lo AS TIMESTAMP), CAST(hi AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY)
    WHERE lo IS NOT NULL
),
daily AS (
    SELECT d.day, CAST(coalesce(sum(x.net_amount), 0) AS DOUBLE) AS net
    FROM days d LEFT JOIN orders x ON x.order_date = d.day GROUP BY d.day
),
revenue AS (
    SELECT d.day, any_value(d.net) AS observed, median(r.net) AS baseline,
           median(ln(1 + greatest(r.net, 0))) AS log_baseline, mad(ln(1 + greatest(r.net, 0))) AS log_mad,
           count(r.net) AS reference_count
    FROM daily d
    CROSS JOIN (VALUES (-28), (-21), (-14), (-7), (7), (14), (21), (28)) o(days)
    JOIN daily r ON r.day = d.day + o.days
    GROUP BY d.day HAVING count(r.net) >= 3
),
revenue_scored AS (  -- on the log scale: revenue varies by factors, and a closed day (0) must stand out
    SELECT *, (ln(1 + greatest(observed, 0)) - log_baseline) / greatest(1.4826 * log_mad, 0.25) AS score
    FROM revenue WHERE baseline > 0
)
{_row("CASE WHEN score > 0 THEN 'traffic_spike' ELSE 'traffic_drop' END", "hour_ts", "hour_ts", "'events'", "'hour'",
      "strftime(hour_ts, '%Y-%m-%d %H:00')", "'sessions_per_hour_vs_same_hour_weekday_median'", "observed", "baseline",
      "score", str(t.traffic_score), "json_object('references', reference_count, 'mad', mad)")}
FROM traffic_scored WHERE abs(score) >= {t.traffic_score}
UNION ALL
{_row("'unusual_order'", "order_date", "order_ts", "source", "'order'", "document_id",
      "'order_value_vs_shop_p99_and_customer_median'", "value", "shop_p99", "shop_ratio", str(t.order_shop_ratio),
      "json_object('customer_id', customer_id, 'customer_orders', customer_orders, 'customer_median', customer_median, "
      "'customer_score', customer_score, 'credited_later', credited, 'first_credit', first_credit, "
      "'matching_credit', credit_id, 'matching_credit_date', credit_date, "
      "'cancelled_share', CASE WHEN credit_id IS NOT NULL THEN 1.0 ELSE least(credited / value, 1.0) END)")}
FROM unusual_orders LEFT JOIN matching_credit USING (source, document_id)
UNION ALL
{_row("'bot'", "session_start", "session_start", "'events'", "'session'", "session_id", "'events_per_minute'",
      "epm", "NULL", "epm", str(BOT_EVENTS_PER_MINUTE),
      "json_object('events', events, 'seconds', seconds, 'anonymous_id', visitor_id, 'user_id', user_id)")}
FROM sess_rated WHERE is_bot
UNION ALL
{_row("'hyperactive_session'", "session_start", "session_start", "'events'", "'session'", "session_id",
      "'log_events_per_minute_robust_z'", "epm", "exp(n.med)", "(ln(epm) - n.med) / (1.4826 * n.mad)",
      str(t.hyperactive_score), "json_object('events', events, 'seconds', seconds, 'anonymous_id', visitor_id, 'user_id', user_id)")}
FROM busy CROSS JOIN busy_norm n WHERE (ln(epm) - n.med) / (1.4826 * n.mad) >= {t.hyperactive_score}
UNION ALL
{_row("'revenue_drop'", "day", "day", "NULL", "'day'", "CAST(day AS VARCHAR)", "'log_daily_net_revenue_vs_same_weekday_median'",
      "observed", "baseline", "score", str(t.revenue_drop_score),
      "json_object('references', reference_count, 'log_mad', log_mad)")}
FROM revenue_scored WHERE score <= -{t.revenue_drop_score}
ORDER BY anomaly_date, anomaly_type, entity_id
"""


def build_anomalies(con: duckdb.DuckDBPyConnection, thresholds: AnomalyThresholds | None = None) -> int:
    sql = anomalies_sql(session_stats(con), thresholds or AnomalyThresholds())
    return replace_table(con, table="anomalies", select_sql=sql)


def thresholds_metadata(thresholds: AnomalyThresholds) -> dict[str, float]:
    return {**asdict(thresholds), "bot_events_per_minute": BOT_EVENTS_PER_MINUTE, "bot_min_events": BOT_MIN_EVENTS}
