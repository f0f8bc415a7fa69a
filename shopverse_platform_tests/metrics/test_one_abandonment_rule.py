"""Cart-level and product-level abandonment follow one rule (lib/metrics/carts.sql, cart_contents.sql):
a cart converts when its session purchases at or after its first add to cart; a product is abandoned
in a cart when the cart is abandoned with the product still in it. Figures by hand from the feed below."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest

from shopverse_platform.lib.metrics.carts import build_cart_abandonment, build_product_performance
from shopverse_platform.lib.metrics.facts import build_order_lines, build_orders
from shopverse_platform.lib.warehouse.shapes import EMPTY_CLEAN_EVENTS, ITEMS_TYPE

DAY = date(2024, 5, 6)
PRICES = {"M": 10.0, "L": 30.0, "V": 20.0}  # Mug, Lamp, Vase

# One session per entry: (event, product ids), one minute apart.
FEED = {
    "c1": [("add_to_cart", "M"), ("add_to_cart", "L"), ("purchase", "M")],  # converted; the lamp not bought
    "c2": [("add_to_cart", "M"), ("add_to_cart", "V"), ("remove_from_cart", "V")],  # abandoned with the mug in it
    "c3": [("view_item", "L"), ("add_to_cart", "L")],  # abandoned with the lamp
    "c4": [("purchase", "M"), ("add_to_cart", "M")],  # bought first, added after: abandoned with the mug
    "c5": [("view_item", "V")],  # no cart
    "c6": [("add_to_cart", "V"), ("add_to_cart", "V"), ("remove_from_cart", "V"), ("purchase", "V")],  # converted
    "c7": [("add_to_cart", "L"), ("add_to_cart", "M"), ("purchase", "LM")],  # converted, both bought
}


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE clean_events AS {EMPTY_CLEAN_EVENTS}")
    for n, (session, events) in enumerate(FEED.items()):
        for i, (name, products) in enumerate([("session_start", ""), *events]):
            ts = datetime(2024, 5, 6, 9 + n, i)
            items = [{"item_id": p, "item_name": p, "item_category": "Home", "price": PRICES[p], "quantity": 1}
                     for p in products]
            con.execute(
                "INSERT INTO clean_events (event_id, event_name, event_ts, event_date, anonymous_id, session_id, "
                f"device, country, items, transaction_id) VALUES (?, ?, ?, ?, ?, ?, 'mobile', 'GB', CAST(? AS {ITEMS_TYPE}), ?)",
                [f"{session}-{i}", name, ts, ts.date(), f"dev-{session}", session, items or None,
                 f"T-{session}" if name == "purchase" else None])
    start, end = DAY, DAY + timedelta(days=1)
    for build in (build_order_lines, build_orders, build_cart_abandonment, build_product_performance):
        build(con, start, end)
    return con


def test_cart_level(con):
    row = con.execute("SELECT carts_created, carts_converted, carts_abandoned, abandonment_rate, abandoned_value, "
                      "most_abandoned_products FROM cart_abandonment WHERE cart_date = ?", [DAY]).fetchone()
    # carts c1 c2 c3 c4 c6 c7; converted c1 c6 c7; abandoned c2 (mug 10), c3 (lamp 30), c4 (mug 10)
    assert row[:4] == (6, 3, 3, 0.5) and float(row[4]) == 50.0
    assert [(p["product_id"], p["carts"]) for p in row[5]] == [("M", 2), ("L", 1)]  # the vase was taken out of c2


def test_product_level(con):
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT product_id, sessions_added, cart_to_purchase_rate, abandonment_rate FROM product_performance "
        "WHERE product_date = ?", [DAY]).fetchall()}
    assert rows == {
        "M": (4, 0.5, 0.5),  # added c1 c2 c4 c7; bought after adding c1 c7 (c4 bought before); left in c2 c4
        "L": (3, pytest.approx(1 / 3), pytest.approx(1 / 3)),  # added c1 c3 c7; bought c7; left in c3 (c1 converted)
        "V": (2, 0.5, 0.0),  # added c2 c6; bought c6; removed from c2 before it was abandoned
    }


def test_both_levels_count_the_same_abandoned_carts(con):
    listed = con.execute("SELECT p.product_id, p.carts FROM (SELECT unnest(most_abandoned_products) AS p "
                         "FROM cart_abandonment WHERE cart_date = ?)", [DAY]).fetchall()
    per_product = con.execute("SELECT product_id, round(abandonment_rate * sessions_added) FROM product_performance "
                              "WHERE product_date = ? AND sessions_added > 0", [DAY]).fetchall()
    assert {p: n for p, n in per_product if n > 0} == dict(listed) == {"M": 2, "L": 1}
