"""What every adapter shares: the rejection record, stable derived event ids, time-zone rules."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

# the quarantine reason of a record no event maps (one of cleaning's QUARANTINE_REASONS; ingestion
# may not import cleaning, so the code is spelt here and a test checks it is listed there)
UNMAPPABLE_EVENT = "unmappable_event"
MALFORMED_JSON = "malformed_json"


@dataclass(frozen=True)
class Rejection:
    """A source record that does not become an event: a quarantine reason code and why."""

    reason: str
    detail: str


class EventIds:
    """Stable event ids for formats that carry none.

    The id hashes the record's content (format, user, time, type, product, session... as the
    adapter lists them) plus the ordinal of the record among identical ones in the same file (or
    ``convert`` call): re-importing the same export gives the same ids, so cleaning deduplicates
    it (``duplicate_event``), and two identical views in the same second are both kept.
    """

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()

    def __call__(self, fmt: str, *parts: object) -> str:
        key = json.dumps([fmt, *[None if p is None else str(p) for p in parts]], ensure_ascii=False)
        ordinal = self._seen[key]
        self._seen[key] += 1
        digest = hashlib.sha256(f"{key}#{ordinal}".encode()).hexdigest()[:32]
        return f"{fmt}-{digest}"


def local_time(text: object, tz_name: str, time_format: str | None = None) -> str | None:
    """An ISO-8601 time with offset for a source timestamp.

    A timestamp that carries an offset (``Z``, ``+01:00``) keeps it; one without is local time in
    the source's configured shop time zone ``tz_name`` (IANA name, default UTC). A text that does
    not parse is returned as it was, so that cleaning quarantines it as ``bad_timestamp`` with the
    value visible (one set of rules). None stays None (the adapter decides what is missing).
    """
    if text is None:
        return None
    raw = str(text)
    try:
        parsed = datetime.strptime(raw.strip(), time_format) if time_format else datetime.fromisoformat(raw.strip())
    except ValueError:
        return raw
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz_name))
    return parsed.isoformat()


def utc_from_micros(value: object) -> str | None:
    """GA4's ``event_timestamp`` (microseconds since the epoch, UTC) as ISO-8601; a value that is
    not a whole number is returned as text, for cleaning's ``bad_timestamp``."""
    if value is None:
        return None
    try:
        micros = int(str(value)) if not isinstance(value, int) else value
        return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc).isoformat()
    except (ValueError, OverflowError, OSError):
        return str(value)


def missing(fmt: str, record: dict, fields: tuple[str, ...]) -> Rejection | None:
    """An ``unmappable_event`` naming the required source fields the record lacks, or None."""
    absent = [f for f in fields if record.get(f) in (None, "")]
    if absent:
        return Rejection(UNMAPPABLE_EVENT, f"{fmt}: missing required field(s) {', '.join(absent)}")
    return None


def drop_none(event: dict) -> dict:
    """Our event without the keys the source did not fill (cleaning reads absent and null alike)."""
    return {k: v for k, v in event.items() if v is not None}
