"""``cart_abandonment`` and ``product_performance``.

One abandonment rule for both tables, written once in ``carts.sql`` and ``cart_contents.sql`` and
spliced into each query: a cart lives in a session: it is created by the session's first add_to_cart
and converted when the session purchases at or after that; otherwise it is abandoned (a later session
buying the same goods is a new cart). Carts count on the day their session started, bot sessions
excluded. The value left in an abandoned cart is what was added minus what was removed, at the prices
of the cart events. A product is abandoned in a cart when the cart is abandoned and the product is
still in it: ``most_abandoned_products`` counts those carts per product, and the product's
``abandonment_rate`` is the same count ÷ the carts it was added to (``sessions_added``), so the two
levels agree. The product's ``cart_to_purchase_rate`` counts carts that bought it at or after adding it.

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
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql

# How many of the most abandoned products each day lists.
TOP_PRODUCTS = 10


def cart_rule() -> dict[str, SqlText]:
    """The carts of the window and what they hold: the fragments both tables splice in."""
    carts = load_sql(__file__, "carts")
    return {"carts": SqlText(f"({carts})"), "cart_contents": load_sql(__file__, "cart_contents", carts=SqlText(f"({carts})"))}


def build_cart_abandonment(con: duckdb.DuckDBPyConnection, start: date, end: date, window_ready: bool = False) -> int:
    if not window_ready:  # several session metrics built in one step share one window
        create_window_events(con, start, end)
    params = {"start": start, "end": end, "top_products": TOP_PRODUCTS}
    return replace_window(con, "cart_abandonment", "cart_date", start, end, load_sql(__file__, "cart_abandonment", **cart_rule()), params)


def build_product_performance(con: duckdb.DuckDBPyConnection, start: date, end: date, window_ready: bool = False) -> int:
    if not window_ready:  # several session metrics built in one step share one window
        create_window_events(con, start, end)
    return replace_window(
        con, "product_performance", "product_date", start, end, load_sql(__file__, "product_performance", **cart_rule()),
        {"start": start, "end": end},
    )
