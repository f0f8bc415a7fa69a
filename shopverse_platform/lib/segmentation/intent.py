"""Intent segments of recent visitors (as of a day), from their events in the lookback window.

- ``converted``: purchased in the window;
- ``high``: added to cart and came back (two or more sessions in the window) without buying;
- ``medium``: showed product interest (viewed an item, or added to cart in a single visit);
- ``low``: browsing only (pages, lists, search; no item viewed).
"""

from __future__ import annotations

import duckdb

from shopverse_platform.lib.segmentation.visitors import recent_visitor_state_sql
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql

INTENT_LEVELS: tuple[str, ...] = ("converted", "high", "medium", "low")
# "Repeated engagement": this many sessions in the window.
REPEAT_SESSIONS = 2


def intent_segments_sql(con: duckdb.DuckDBPyConnection, lookback_days: int) -> SqlText:
    """Visitors seen in the ``lookback_days`` before ``$before`` with their intent level.

    The query's only parameter is ``$before``; the lookback and ``REPEAT_SESSIONS`` are bound now,
    into connection variables the query reads, so run the text on ``con`` before making another one."""
    state = recent_visitor_state_sql(con, lookback_days)
    con.execute(load_sql(__file__, "intent_settings"),
                {"lookback_days": int(lookback_days), "repeat_sessions": REPEAT_SESSIONS})
    return load_sql(__file__, "intent_segments", visitor_state=state)
