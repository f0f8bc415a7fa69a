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

# Events that describe money changing hands: every item on them must carry a price.
MONETARY_EVENTS: tuple[str, ...] = ("purchase", "refund")

# The domains of the numbers an event carries; a value outside is quarantined, never coerced.
# Money is cast downstream to DECIMAL(18,3) (unit prices) and DECIMAL(18,2) (line amounts and
# their sums, lib/metrics/order_lines.sql and the metrics above it), which hold less than 1e15 and
# 1e16. A price or an event ``value`` must be a finite number with 0 <= x < MAX_MONEY (a refund
# carries positive prices and a positive value, like the purchase it returns); an item quantity,
# when given, a whole number in [1, MAX_ITEM_QUANTITY]. One line then stays below 1e14, so a
# hundred lines of the largest kind still sum inside DECIMAL(18,2). A missing quantity counts as 1.
MAX_MONEY: float = 1e9
MAX_ITEM_QUANTITY: int = 100_000

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
# keys exist for the legacy tracker, whose cart events had no ``items[]``. Prices, quantities and
# the value are read as JSON text and typed in the cleaning SQL: read as DOUBLE/INTEGER, the JSON
# reader would turn "12,50" or "two" into NULL and round 1.7 to 2 before any rule could see them,
# and the quarantine shows the offending value as it was sent.
ITEM_STRUCTURE: dict[str, str] = {
    "item_id": "VARCHAR",
    "item_name": "VARCHAR",
    "item_category": "VARCHAR",
    "price": "JSON",
    "quantity": "JSON",
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
    "value": "JSON",
    "currency": "VARCHAR",
    "transaction_id": "VARCHAR",
    # legacy flat item fields
    "product_id": "VARCHAR",
    "product_name": "VARCHAR",
    "category": "VARCHAR",
    "price": "JSON",
    "quantity": "JSON",
}

# Why a row was kept out of the clean tables. Every quarantined row carries exactly one.
QUARANTINE_REASONS: dict[str, str] = {
    "malformed_json": "the line is not a JSON object",
    "invalid_encoding": "the line is not valid UTF-8",
    "schema_violation": "a required field is missing or has the wrong type",
    "unknown_event_type": "event_name is not a known or legacy event type",
    "bad_timestamp": "event_time is not an ISO-8601 timestamp with an offset within +-14:00",
    "future_timestamp": "event_time lies after the landing day (plus tolerance) or after now",
    "ancient_timestamp": "event_time lies before the landing day minus the allowed lateness",
    "invalid_price": "a purchase or refund item has no price, or an item's price is not a finite number in [0, MAX_MONEY)",
    "missing_items": "an item event names no item",
    "duplicate_event": "the event_id was already delivered (same file, another file or an earlier day), or is already clean on another day",
    "invalid_quantity": "an item's quantity is given but is not a whole number in [1, MAX_ITEM_QUANTITY]",
    "invalid_value": "the event's value is given but is not a finite number in [0, MAX_MONEY)",
    "unreadable_file": "the whole landing file cannot be read (e.g. a truncated or fake gzip): one record for the file",
    "not_an_event_file": "a file (or folder) of a landing day folder that is not an event file: one record, not read",
    "symlink_outside_landing": "a symbolic link whose target lies outside the landing zone: one record, not followed",
    "invalid_currency": "a purchase or refund has a currency that is not a three-letter ISO 4217 code",
    "unmappable_event": "a record of another tool's export (imports/<source>/) that no event maps: an abandon action, a sign-up, an unknown type, a missing required field",
}

# Order-export (UCI Online Retail layout) reasons.
ORDER_QUARANTINE_REASONS: dict[str, str] = {
    "schema_violation": "a required column is missing or not parseable (quantity, price, invoice; a date: bad_invoice_date)",
    "invalid_price": "negative unit price on a sale line",
    "duplicate_line": "the exact same order line was delivered again",
    "bad_invoice_date": "InvoiceDate is missing or in none of the export layouts (the line is kept in the file's first invoice day)",
    "quantity_out_of_domain": "Quantity is a number but not a whole number from -999999 to 999999 other than 0",
    "price_out_of_domain": "UnitPrice is a number but not a plain decimal of at most 3 decimals below 1e9 in magnitude (NaN, inf, 1e400)",
    "malformed_line": "a line of the export with the wrong number of fields (kept verbatim with its line number)",
    "unreadable_export": "an order export that could not be read at all (empty, truncated, unreadable): one record naming the file",
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
