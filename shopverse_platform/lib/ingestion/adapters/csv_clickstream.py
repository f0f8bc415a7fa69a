"""Generic CSV clickstreams, one event per row, mapped by a source's column mapping.

The defaults fit the public e-commerce behaviour datasets (``event_time,event_type,product_id,
category_id,category_code,brand,price,user_id,user_session``; types ``view``/``cart``/
``remove_from_cart``/``purchase``; times ``2019-10-01 00:00:00 UTC``); a source in
``landing/sources.toml`` overrides any of them.
"""

from __future__ import annotations

from shopverse_platform.lib.ingestion.adapters.common import (
    UNMAPPABLE_EVENT,
    EventIds,
    Rejection,
    drop_none,
    local_time,
)

FORMAT = "csv_clickstream"
# our field -> the source's column
DEFAULT_COLUMNS = {
    "event_time": "event_time", "event_name": "event_type", "item_id": "product_id",
    "item_category": "category_code", "item_name": None, "price": "price", "quantity": None,
    "user_id": "user_id", "anonymous_id": None, "session_id": "user_session",
}
DEFAULT_EVENT_TYPES = {"view": "view_item", "cart": "add_to_cart", "remove_from_cart": "remove_from_cart",
                       "purchase": "purchase"}
DEFAULT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
REQUIRED = ("event_time", "event_name")


def csv_clickstream(record: dict, ids: EventIds, tz_name: str, currency: str | None, *,
                    columns: dict, event_types: dict, time_format: str | None, source: str) -> dict | Rejection:
    def field(ours: str) -> str | None:
        column = columns.get(ours)
        value = record.get(column) if column else None
        return None if value is None or str(value).strip() == "" else str(value).strip()

    who = field("anonymous_id") or field("user_id")
    absent = [columns.get(f) or f for f in REQUIRED if field(f) is None]
    if who is None:
        absent.append(columns.get("anonymous_id") or columns.get("user_id") or "user_id")
    if absent:
        return Rejection(UNMAPPABLE_EVENT, f"{FORMAT} ({source}): missing required column value(s) {', '.join(absent)}")
    kind = field("event_name")
    if kind not in event_types:
        return Rejection(UNMAPPABLE_EVENT, f"{FORMAT} ({source}): event type {kind!r} is not in the source's event_types map")
    name = event_types[kind]
    product, price = field("item_id"), field("price")
    return drop_none({
        "event_id": ids(source, who, field("event_time"), kind, product, field("session_id")),
        "event_name": name,
        "event_time": local_time(field("event_time"), tz_name, time_format),
        "user_id": field("user_id"),
        "anonymous_id": who,
        "session_id": field("session_id"),
        # prices stay text: cleaning types them, and quarantines "12,50" with the value visible
        "items": [drop_none({"item_id": product, "item_name": field("item_name"),
                             "item_category": field("item_category"), "price": price,
                             "quantity": field("quantity")})] if product else None,
        "value": price if name == "purchase" else None,
        "currency": currency if name == "purchase" else None,
    })
