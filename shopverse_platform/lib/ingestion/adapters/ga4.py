"""GA4's BigQuery export (``events_YYYYMMDD`` rows, as NDJSON or Parquet) as our events.

GA4 event names are the e-commerce names our schema took over, so they pass unchanged; GA4's
automatic events we have no type for (``first_visit``, ``user_engagement``, ``scroll``...) are
``unmappable_event``. ``event_params`` is a repeated ``{key, value: {string_value, int_value,
float_value, double_value}}`` record: the first non-null of the four is the parameter's value.
"""

from __future__ import annotations

from shopverse_platform.lib.ingestion.adapters.common import (
    UNMAPPABLE_EVENT,
    EventIds,
    Rejection,
    drop_none,
    missing,
    utc_from_micros,
)

FORMAT = "ga4_bigquery"
# GA4's names that are ShopVerse event types (lib/cleaning/event_schema.EVENT_TYPES, which this
# layer may not import: cleaning lies downstream of ingestion; a test keeps the two in step)
GA4_EVENT_TYPES = ("session_start", "page_view", "search", "view_item_list", "view_item", "add_to_cart",
                   "remove_from_cart", "view_cart", "begin_checkout", "add_payment_info", "purchase", "refund")
VALUE_KINDS = ("string_value", "int_value", "float_value", "double_value")


def params(record: dict) -> dict:
    """``event_params`` as {key: value}."""
    found = {}
    for param in record.get("event_params") or []:
        value = (param or {}).get("value") or {}
        found[param.get("key")] = next((value[k] for k in VALUE_KINDS if value.get(k) is not None), None)
    return found


def _text(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def ga4_bigquery(record: dict, ids: EventIds, tz_name: str, currency: str | None) -> dict | Rejection:
    if (gap := missing(FORMAT, record, ("event_name", "event_timestamp", "user_pseudo_id"))) is not None:
        return gap
    name = str(record["event_name"])
    if name not in GA4_EVENT_TYPES:
        return Rejection(UNMAPPABLE_EVENT, f"{FORMAT}: event_name {name!r} has no ShopVerse event type")
    p = params(record)
    ecommerce = record.get("ecommerce") or {}
    traffic = record.get("traffic_source") or {}
    device = (record.get("device") or {}).get("category")
    country = (record.get("geo") or {}).get("country")
    session = p.get("ga_session_id")
    items = [drop_none({
        "item_id": _text(i.get("item_id")), "item_name": i.get("item_name"),
        "item_category": i.get("item_category"), "price": i.get("price"), "quantity": i.get("quantity"),
    }) for i in record.get("items") or []]
    transaction = _text(ecommerce.get("transaction_id")) or _text(p.get("transaction_id"))
    value = ecommerce.get("purchase_revenue") if ecommerce.get("purchase_revenue") is not None else p.get("value")
    pseudo = str(record["user_pseudo_id"])
    return drop_none({
        # GA4 has no event id: derived from the row's identity (see EventIds)
        "event_id": ids(FORMAT, pseudo, record["event_timestamp"], name, session, transaction,
                        [i.get("item_id") for i in items], p.get("page_location")),
        "event_name": name,
        "event_time": utc_from_micros(record["event_timestamp"]),
        "user_id": _text(record.get("user_id")),
        "anonymous_id": pseudo,
        # ga_session_id is unique per user only
        "session_id": f"{pseudo}.{session}" if session is not None else None,
        "page": p.get("page_location"),
        "referrer": p.get("page_referrer"),
        "utm_source": traffic.get("source"),
        "utm_medium": traffic.get("medium"),
        "utm_campaign": traffic.get("name"),
        "search_term": p.get("search_term"),
        "device": str(device).lower() if device else None,
        # GA4 writes country names ("United Kingdom"); ours is ISO alpha-2, so only such a code is kept
        "country": country if isinstance(country, str) and len(country) == 2 else None,
        "items": items or None,
        "value": value,
        "currency": p.get("currency") or currency,
        "transaction_id": transaction,
    })
