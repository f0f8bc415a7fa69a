"""GA4 Measurement Protocol payloads as ShopVerse events.

A payload ``{"client_id", "user_id", "timestamp_micros", "user_properties", "events": [{"name",
"params"}]}`` becomes one of our events per GA4 event: the GA4 e-commerce names are ours already
(``view_search_results`` is our ``search``), ``client_id`` (or an app's ``app_instance_id``) is
the ``anonymous_id``, ``params.items[]`` keep their item fields, and the event time is the event's
or the payload's ``timestamp_micros``, else the time of receipt. Every mapped event is then judged
by the same validator as a native one (``lib/cleaning/event_validation``).

The Measurement Protocol has no event id, so one is derived: a SHA-256 of the client id, the
timestamp as sent, the event's index in the payload and the event's canonical JSON. The same
payload sent again (a client retry) gets the same ids, and cleaning drops the copies as
``duplicate_event``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

# GA4 names that differ from ours; every other name is kept (and judged like any event name)
GA4_EVENT_NAMES: dict[str, str] = {"view_search_results": "search"}

# params.<key> -> our field
_PARAM_FIELDS: dict[str, str] = {
    "session_id": "session_id",
    "page_location": "page",
    "page_referrer": "referrer",
    "search_term": "search_term",
    "currency": "currency",
    "value": "value",
    "transaction_id": "transaction_id",
    "source": "utm_source",
    "medium": "utm_medium",
    "campaign": "utm_campaign",
}
_ITEM_FIELDS = ("item_id", "item_name", "item_category", "price", "quantity")

# our reason codes -> the validation server's codes
VALIDATION_CODES: dict[str, str] = {
    "schema_violation": "VALUE_REQUIRED",
    "unknown_event_type": "NAME_INVALID",
    "malformed_json": "VALUE_INVALID",
}


class NotAPayload(ValueError):
    """The body is JSON but not a Measurement Protocol payload (not an object, no ``events`` list)."""


def event_id(client_id: object, timestamp: object, index: int, event: object) -> str:
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    digest = hashlib.sha256(f"{client_id}\x1f{timestamp}\x1f{index}\x1f{canonical}".encode("utf-8", "surrogatepass"))
    return "mp-" + digest.hexdigest()[:32]


def _iso(micros: object, received: datetime) -> object:
    if micros is None:
        return received.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    try:
        value = int(micros)
        return datetime.fromtimestamp(value / 1e6, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(micros)  # kept as sent: the validator calls it a bad_timestamp


def to_events(payload: object, received: datetime) -> list[object]:
    """Our events for a Measurement Protocol payload, in order (an entry of ``events`` that is not
    an object maps to itself, which the validator rejects as ``malformed_json``)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list) or not payload["events"]:
        raise NotAPayload("a Measurement Protocol payload is a JSON object with a non-empty 'events' list")
    client_id = payload.get("client_id", payload.get("app_instance_id"))
    user_id = payload.get("user_id")
    out: list[object] = []
    for index, ga in enumerate(payload["events"]):
        if not isinstance(ga, dict):
            out.append(ga)
            continue
        params = ga.get("params") if isinstance(ga.get("params"), dict) else {}
        micros = ga.get("timestamp_micros", payload.get("timestamp_micros"))
        name = ga.get("name")
        event: dict[str, object] = {
            "event_id": event_id(client_id, micros, index, ga),
            "event_name": GA4_EVENT_NAMES.get(name, name) if isinstance(name, str) else name,
            "event_time": _iso(micros, received),
            "anonymous_id": client_id,
            "user_id": user_id,
        }
        for key, field in _PARAM_FIELDS.items():
            if params.get(key) is not None:
                value = params[key]
                event[field] = str(value) if field == "session_id" else value
        if isinstance(params.get("items"), list):
            event["items"] = [{k: i[k] for k in _ITEM_FIELDS if k in i} if isinstance(i, dict) else i
                              for i in params["items"]]
        event["source"] = "measurement_protocol"
        out.append({k: v for k, v in event.items() if v is not None})
    return out


def validation_message(index: int, reason: str, detail: str) -> dict[str, str]:
    """A rejected event as one message of GA4's validation server."""
    return {"fieldPath": "events", "description": f"Event at index: [{index}] {detail} ({reason})",
            "validationCode": VALIDATION_CODES.get(reason, "VALUE_INVALID")}
