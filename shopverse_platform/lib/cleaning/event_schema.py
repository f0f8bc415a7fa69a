"""The ShopVerse event schema, as code.

One definition that the simulator writes, the cleaning layer enforces and ``docs/events.md``
documents. Events are GA4-style e-commerce events; the older ShopVerse tracker's names are
mapped onto them (see ``LEGACY_EVENT_NAMES``).
"""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "session_start",
    "page_view",
    "search",
    "view_item_list",
    "view_item",
    "add_to_cart",
    "remove_from_cart",
    "view_cart",
    "begin_checkout",
    "add_payment_info",
    "purchase",
    "refund",
)

# The older ShopVerse tracker (before the GA4 naming) sent these names. They are accepted and
# mapped so that history from the old tracker lands in the same tables as new events.
LEGACY_EVENT_NAMES: dict[str, str] = {
    "product_view": "view_item",
    "cart_view": "view_cart",
    "cart_add": "add_to_cart",
    "cart_remove": "remove_from_cart",
    "checkout_start": "begin_checkout",
    "order_completed": "purchase",
}

# Events that describe money changing hands: every item on them must carry a non-negative price.
MONETARY_EVENTS: tuple[str, ...] = ("purchase", "refund")

# Events that must name at least one item.
ITEM_EVENTS: tuple[str, ...] = (
    "view_item",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
)

DEVICES: tuple[str, ...] = ("desktop", "mobile", "tablet")

# The typed shape one NDJSON line is parsed into (DuckDB ``from_json`` structure). Keys that are
# not listed are ignored; the flat ``product_id``/``product_name``/``category``/``price``/``quantity``
# keys exist for the legacy tracker, whose cart events had no ``items[]``.
ITEM_STRUCTURE: dict[str, str] = {
    "item_id": "VARCHAR",
    "item_name": "VARCHAR",
    "item_category": "VARCHAR",
    "price": "DOUBLE",
    "quantity": "INTEGER",
}

EVENT_STRUCTURE: dict[str, object] = {
    "event_id": "VARCHAR",
    "event_name": "VARCHAR",
    "event_type": "VARCHAR",  # legacy tracker key for event_name
    "event_time": "VARCHAR",
    "user_id": "VARCHAR",
    "anonymous_id": "VARCHAR",
    "device_id": "VARCHAR",  # legacy tracker key for anonymous_id
    "session_id": "VARCHAR",
    "page": "VARCHAR",
    "referrer": "VARCHAR",
    "utm_source": "VARCHAR",
    "utm_medium": "VARCHAR",
    "utm_campaign": "VARCHAR",
    "search_term": "VARCHAR",
    "device": "VARCHAR",
    "country": "VARCHAR",
    "items": [ITEM_STRUCTURE],
    "value": "DOUBLE",
    "currency": "VARCHAR",
    "transaction_id": "VARCHAR",
    # legacy flat item fields
    "product_id": "VARCHAR",
    "product_name": "VARCHAR",
    "category": "VARCHAR",
    "price": "DOUBLE",
    "quantity": "INTEGER",
}

# Why a row was kept out of the clean tables. Every quarantined row carries exactly one.
QUARANTINE_REASONS: dict[str, str] = {
    "malformed_json": "the line is not a JSON object",
    "invalid_encoding": "the line is not valid UTF-8",
    "schema_violation": "a required field is missing or has the wrong type",
    "unknown_event_type": "event_name is not a known or legacy event type",
    "bad_timestamp": "event_time is not an ISO-8601 timestamp with an offset",
    "future_timestamp": "event_time lies after the landing day (plus tolerance) or after now",
    "ancient_timestamp": "event_time lies before the landing day minus the allowed lateness",
    "invalid_price": "a purchase or refund item has a missing or negative price",
    "missing_items": "an item event names no item",
    "duplicate_event": "the event_id was already delivered (same file, another file or an earlier day)",
    "invalid_currency": "a purchase or refund has a currency that is not a three-letter ISO 4217 code",
}

# Order-export (UCI Online Retail layout) reasons.
ORDER_QUARANTINE_REASONS: dict[str, str] = {
    "schema_violation": "a required column is missing or not parseable (quantity, price, date, invoice)",
    "invalid_price": "negative unit price on a sale line",
    "duplicate_line": "the exact same order line was delivered again",
}

# Non-product stock codes in order exports: fees and adjustments are classified, not mixed
# with products. Anything else is a product line.
NON_PRODUCT_STOCK_CODES: dict[str, str] = {
    "POST": "postage",
    "DOT": "postage",
    "C2": "postage",
    "M": "manual_adjustment",
    "D": "discount",
    "CRUK": "commission",
    "BANK CHARGES": "fee",
    "AMAZONFEE": "fee",
    "B": "bad_debt_adjustment",
    "S": "samples",
    "PADS": "fee",
}
