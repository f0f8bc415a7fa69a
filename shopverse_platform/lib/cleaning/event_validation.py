"""Per-event validation in Python: the rules of ``parsed_events.sql``, for one event at a time.

The collector (``lib/ingestion/collector``) judges each event it receives before acknowledging it;
a DuckDB query per request would cost more than the whole request. So the cleaning SQL's rules
are written here a second time, in the same order and with the same reason codes
(``QUARANTINE_REASONS``) and the same constants (``event_schema.py``, ``EventRules``): what this
module accepts, cleaning accepts (duplicates aside: only cleaning sees them). The differential
test (``shopverse_platform_tests/cleaning/test_event_validation.py``) runs one corpus through both
and asserts the same verdict per event; a change to one side fails it until the other follows.

Where the SQL reads a field through ``json_transform`` with ``EVENT_STRUCTURE``, the Python side
mirrors what DuckDB does with each JSON type: a VARCHAR field holding a number, a boolean or an
object reads as its JSON text (so it is present), an ``items`` that is not an array reads as NULL,
an item that is not an object as an item with nothing in it, a JSON ``null`` as absent. Numbers
sent as JSON text (price, quantity, value) are typed like ``try_cast(trim(text, '"') AS DOUBLE)``.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone

from shopverse_platform.lib.cleaning.event_schema import (
    EVENT_TYPES,
    ITEM_EVENTS,
    LEGACY_EVENT_NAMES,
    MAX_ITEM_QUANTITY,
    MAX_MONEY,
    MONETARY_EVENTS,
    QUARANTINE_REASONS,
)
from shopverse_platform.lib.cleaning.events import EventRules

Verdict = tuple[str, str] | None

_EVENT_TYPES = frozenset(EVENT_TYPES)
_ITEM_EVENTS = frozenset(ITEM_EVENTS)
_MONETARY_EVENTS = frozenset(MONETARY_EVENTS)

# parsed_events.sql's timestamp pattern, with [0-9] for \d (RE2's \d is ASCII only, Python's is not)
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?"
    r"(Z|[+-](?:0[0-9]|1[0-3])(?::?[0-5][0-9])?|[+-]14(?::?00)?)"
)
# What DuckDB's VARCHAR -> DOUBLE cast reads: surrounding whitespace, a sign, digits (with single
# underscores between them), a fraction, an exponent; or inf/infinity/nan in any case.
_DIGITS = r"[0-9](?:_?[0-9])*"
_DUCKDB_DOUBLE = re.compile(
    rf"\s*[+-]?(?:(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?|inf|infinity|nan)\s*",
    re.IGNORECASE,
)
_CURRENCY = re.compile(r"[A-Za-z]{3}")


def _text(value: object) -> str | None:
    """A field read as VARCHAR by ``json_transform``: strings as they are, other JSON as its text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _number(value: object) -> float | None:
    """A field read as JSON and typed as ``try_cast(trim(CAST(x AS VARCHAR), '"') AS DOUBLE)``."""
    if isinstance(value, bool) or value is None:
        return None  # 'true' is no number
    if isinstance(value, (int, float)):
        return float(value) if not isinstance(value, int) or abs(value) < 1e308 else math.inf
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False).strip('"')  # the JSON text, escapes included
    else:
        return None  # an array or object
    if not _DUCKDB_DOUBLE.fullmatch(text):
        return None
    try:
        return float(text.replace("_", ""))
    except (ValueError, OverflowError):
        return None


def _good_money(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and 0 <= x < MAX_MONEY


def _good_quantity(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x == math.floor(x) and 1 <= x <= MAX_ITEM_QUANTITY


def parse_event_time(text: str) -> datetime | None:
    """``event_time`` as a naive UTC datetime the way cleaning reads it, or None when it is not one.
    Year 0 (1 BC to DuckDB) is returned as ``datetime.min``: before any landing day."""
    m = _TIMESTAMP.fullmatch(text)
    if not m:
        return None
    year, month, day, hour, minute = (int(g) for g in m.group(1, 2, 3, 4, 5))
    second = int(m.group(6) or 0)
    micros = int((m.group(7) or "0")[:6].ljust(6, "0"))
    offset = m.group(8)
    extra = timedelta()
    if hour == 24 and minute == 0 and second == 0 and micros == 0:
        hour, extra = 0, timedelta(days=1)  # DuckDB reads 24:00:00 as the next midnight
    try:
        if year == 0:
            date(2000, month, day)  # still a real month and day
            if hour > 23 or minute > 59 or second > 59:
                return None
            return datetime.min
        local = datetime(year, month, day, hour, minute, second, micros) + extra
    except (ValueError, OverflowError):
        return None
    if offset == "Z":
        return local
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    shift = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    try:
        return local - sign * shift
    except OverflowError:
        return datetime.min if sign > 0 else datetime.max


@lru_cache(maxsize=16)
def _bounds(landing_day: date, now: datetime, rules: EventRules) -> tuple[datetime, datetime, datetime]:
    """The timestamp limits of parsed_events.sql for one landing day and moment (cached: every
    event of a request shares them)."""
    day_start = datetime(landing_day.year, landing_day.month, landing_day.day)
    now_utc = now.astimezone(timezone.utc).replace(tzinfo=None) if now.tzinfo else now
    return (day_start + timedelta(days=1, hours=rules.future_tolerance_hours), now_utc + timedelta(hours=1),
            day_start - timedelta(days=rules.max_lateness_days))


_DEFAULT_RULES = EventRules()


def validate_event(event: object, landing_day: date, now: datetime, rules: EventRules = _DEFAULT_RULES) -> Verdict:
    """None when cleaning would keep ``event`` (a parsed JSON value) landed on ``landing_day`` at
    ``now`` (aware or naive UTC), else (reason code, detail): the first rule it breaks, in the
    order of ``parsed_events.sql``."""
    if not isinstance(event, dict):
        return "malformed_json", "the event is not a JSON object"
    get = event.get
    event_id = _text(get("event_id"))
    raw_name = _text(get("event_name"))
    if raw_name is None:
        raw_name = _text(get("event_type"))
    time_text = _text(get("event_time"))
    anonymous_id = _text(get("anonymous_id"))
    if anonymous_id is None:
        anonymous_id = _text(get("device_id"))
    if event_id is None or event_id.strip(" ") == "":
        return "schema_violation", "event_id is missing or empty"
    if raw_name is None:
        return "schema_violation", "event_name (or the legacy event_type) is missing"
    if time_text is None:
        return "schema_violation", "event_time is missing"
    if anonymous_id is None:
        return "schema_violation", "anonymous_id (or the legacy device_id) is missing"
    name = LEGACY_EVENT_NAMES.get(raw_name, raw_name)
    if name not in _EVENT_TYPES:
        return "unknown_event_type", f"{raw_name!r} is not a known or legacy event type"
    ts = parse_event_time(time_text)
    if ts is None:
        return "bad_timestamp", f"{time_text!r} is not an ISO-8601 timestamp with an offset within +-14:00"
    future_from, now_limit, ancient_before = _bounds(landing_day, now, rules)
    if ts >= future_from or ts > now_limit:
        return "future_timestamp", f"{time_text!r} lies after the landing day {landing_day} (plus tolerance) or after now"
    if ts < ancient_before:
        return "ancient_timestamp", f"{time_text!r} lies more than {rules.max_lateness_days} days before the landing day {landing_day}"

    items = get("items")
    if isinstance(items, list) and items:
        sent = [i if isinstance(i, dict) else {} for i in items]
    elif _text(get("product_id")) is not None:  # the legacy tracker's flat item; no quantity = 1
        quantity = get("quantity")
        sent = [{"price": get("price"), "quantity": "1" if quantity is None else quantity}]
    else:
        sent = []
    if name in _ITEM_EVENTS and not sent:
        return "missing_items", f"a {name} event names no item"
    if name in _MONETARY_EVENTS and (not sent or any(i.get("price") is None for i in sent)):
        return "invalid_price", f"a {name} event has no item or an item without a price"
    for i in sent:
        price = i.get("price")
        if price is not None and not _good_money(_number(price)):
            return "invalid_price", f"price {price!r} is not a finite number in [0, {MAX_MONEY:g})"
    for i in sent:
        quantity = i.get("quantity")
        if quantity is not None and not _good_quantity(_number(quantity)):
            return "invalid_quantity", f"quantity {quantity!r} is not a whole number in [1, {MAX_ITEM_QUANTITY}]"
    value = get("value")
    if value is not None and not _good_money(_number(value)):
        return "invalid_value", f"value {value!r} is not a finite number in [0, {MAX_MONEY:g})"
    currency = _text(get("currency"))
    if name in _MONETARY_EVENTS and currency is not None and not _CURRENCY.fullmatch(currency.strip(" ")):
        return "invalid_currency", f"currency {currency!r} is not a three-letter ISO 4217 code"
    return None


assert {"malformed_json", "schema_violation", "unknown_event_type", "bad_timestamp", "future_timestamp",
        "ancient_timestamp", "missing_items", "invalid_price", "invalid_quantity", "invalid_value",
        "invalid_currency"} <= QUARANTINE_REASONS.keys(), "a reason code this module returns is not a quarantine reason"
