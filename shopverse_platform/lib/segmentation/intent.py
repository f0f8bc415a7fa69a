"""Intent segments of recent visitors (as of a day), from their events in the lookback window.

- ``converted``: purchased in the window;
- ``high``: added to cart and came back (two or more sessions in the window) without buying;
- ``medium``: showed product interest (viewed an item, or added to cart in a single visit);
- ``low``: browsing only (pages, lists, search; no item viewed).
"""

from __future__ import annotations

import duckdb

from shopverse_platform.lib.segmentation.visitors import visitor_state_sql

INTENT_LEVELS: tuple[str, ...] = ("converted", "high", "medium", "low")
# "Repeated engagement": this many sessions in the window.
REPEAT_SESSIONS = 2


def intent_segments_sql(con: duckdb.DuckDBPyConnection, lookback_days: int) -> str:
    return f"""
    SELECT visitor_id, CAST($before AS DATE) - 1 AS as_of_date, {int(lookback_days)} AS lookback_days,
           CASE WHEN recent_purchases > 0 THEN 'converted'
                WHEN recent_cart_adds > 0 AND recent_sessions >= {REPEAT_SESSIONS} THEN 'high'
                WHEN recent_item_views > 0 OR recent_cart_adds > 0 THEN 'medium'
                ELSE 'low' END AS intent_segment,
           is_identified, recent_sessions, recent_active_days, recent_page_views, recent_item_views,
           recent_cart_adds, recent_checkouts, recent_purchases, revenue_total, last_seen_date
    FROM ({visitor_state_sql(con, lookback_days)})
    """
