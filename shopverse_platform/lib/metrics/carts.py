"""``cart_abandonment`` and ``product_performance``.

A cart lives in a session: it is created by the session's first add_to_cart and converted when the
session purchases after that; otherwise it is abandoned (a later session buying the same goods is a
new cart). Carts count on the day their session started, bot sessions excluded. The value left in an
abandoned cart is what was added minus what was removed, at the prices of the cart events.

Customer segment of a cart: ``anonymous`` (no user id in the session), ``new`` (identified, no order
before that day) or ``returning``.
"""

from __future__ import annotations

from datetime import date

import duckdb

from shopverse_platform.lib.metrics.sources import (
    create_window_events,
    replace_window,
)
from shopverse_platform.lib.warehouse.sql import load_sql

# How many of the most abandoned products each day lists.
TOP_PRODUCTS = 10


def build_cart_abandonment(con: duckdb.DuckDBPyConnection, start: date, end: date, window_ready: bool = False) -> int:
    if not window_ready:  # several session metrics built in one step share one window
        create_window_events(con, start, end)
    params = {"start": start, "end": end, "top_products": TOP_PRODUCTS}
    return replace_window(con, "cart_abandonment", "cart_date", start, end, load_sql(__file__, "cart_abandonment"), params)


def build_product_performance(con: duckdb.DuckDBPyConnection, start: date, end: date, window_ready: bool = False) -> int:
    if not window_ready:  # several session metrics built in one step share one window
        create_window_events(con, start, end)
    return replace_window(
        con, "product_performance", "product_date", start, end, load_sql(__file__, "product_performance"),
        {"start": start, "end": end},
    )
