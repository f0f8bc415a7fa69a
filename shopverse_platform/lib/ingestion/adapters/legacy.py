"""The event shapes of two older tools our users migrate from.

``legacy_actions``: ``{"event_id", "customer_id", "action", "product_title", "product_price",
"product_image", "description", "timestamp"}``; ``legacy_data``: ``{"event_type", "user_id",
"timestamp", "data": {"page", "amount", "product_id"}}`` (no event id, times without offset).
"""

from __future__ import annotations

from shopverse_platform.lib.ingestion.adapters.common import (
    UNMAPPABLE_EVENT,
    EventIds,
    Rejection,
    drop_none,
    local_time,
    missing,
)

ACTIONS = {"add_to_cart": "add_to_cart", "remove_from_cart": "remove_from_cart", "purchase": "purchase"}
DATA_TYPES = {"purchase": "purchase", "page_view": "page_view", "add_to_cart": "add_to_cart",
              "product_view": "view_item"}
# why a known source type is not imported (the platform derives it, or it is not an event of ours)
NOT_IMPORTED = {
    "abandon": "cart abandonment is derived by the platform, not imported",
    "user_signup": "a sign-up is not a shop event (customers come from the customer profiles)",
}


def legacy_actions(record: dict, ids: EventIds, tz_name: str, currency: str | None) -> dict | Rejection:
    fmt = "legacy_actions"
    if (gap := missing(fmt, record, ("event_id", "customer_id", "action", "timestamp"))) is not None:
        return gap
    action = str(record["action"])
    if action not in ACTIONS:
        why = NOT_IMPORTED.get(action, "not one of add_to_cart, remove_from_cart, purchase")
        return Rejection(UNMAPPABLE_EVENT, f"{fmt}: action {action!r}: {why}")
    if record.get("product_title") in (None, ""):
        return Rejection(UNMAPPABLE_EVENT, f"{fmt}: missing required field(s) product_title")
    name = ACTIONS[action]
    price = record.get("product_price")
    customer = str(record["customer_id"])
    return drop_none({
        "event_id": str(record["event_id"]),
        "event_name": name,
        "event_time": local_time(record["timestamp"], tz_name),
        "user_id": customer,
        # the tool knew customers only: the customer stands for the device too
        "anonymous_id": f"customer:{customer}",
        # the tool had no product id: the title is the product's identity
        "items": [drop_none({"item_id": str(record["product_title"]), "item_name": str(record["product_title"]),
                             "price": price, "quantity": 1})],
        "value": price if name == "purchase" else None,
        "currency": currency if name == "purchase" else None,
    })


def legacy_data(record: dict, ids: EventIds, tz_name: str, currency: str | None) -> dict | Rejection:
    fmt = "legacy_data"
    if (gap := missing(fmt, record, ("event_type", "user_id", "timestamp"))) is not None:
        return gap
    kind = str(record["event_type"])
    if kind not in DATA_TYPES:
        why = NOT_IMPORTED.get(kind, "not one of " + ", ".join(DATA_TYPES))
        return Rejection(UNMAPPABLE_EVENT, f"{fmt}: event_type {kind!r}: {why}")
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    name = DATA_TYPES[kind]
    product = data.get("product_id")
    if name in ("view_item", "add_to_cart", "purchase") and product in (None, ""):
        return Rejection(UNMAPPABLE_EVENT, f"{fmt}: {kind} without data.product_id")
    amount = data.get("amount")
    if name == "purchase" and amount is None:
        return Rejection(UNMAPPABLE_EVENT, f"{fmt}: purchase without data.amount")
    user = str(record["user_id"])
    event_time = local_time(record["timestamp"], tz_name)
    return drop_none({
        "event_id": ids("legacy_data", user, record["timestamp"], kind, product, data.get("page"), amount),
        "event_name": name,
        "event_time": event_time,
        "user_id": user,
        "anonymous_id": f"user:{user}",
        "page": data.get("page"),
        # one product per event; a purchase's amount is its one item's price
        "items": [drop_none({"item_id": str(product), "price": amount if name == "purchase" else None,
                             "quantity": 1})] if product not in (None, "") else None,
        "value": amount if name == "purchase" else None,
        "currency": currency if name == "purchase" else None,
    })
