"""A hand-written landing zone: each line exercises one rule, with the expected outcome beside it."""

from __future__ import annotations

import json
from pathlib import Path


def event(event_id: str | None, name: str, time: str, anonymous_id: str = "dev-a", **fields) -> dict:
    body = {"event_id": event_id, "event_name": name, "event_time": time, "anonymous_id": anonymous_id}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


ITEM = {"item_id": "P001", "item_name": "Mug", "item_category": "Kitchen", "price": 8.5, "quantity": 1}

# (line, expected outcome) for 2024-03-05, file batch-0001.ndjson
DAY1_BATCH1: list[tuple[str, str]] = [
    (json.dumps(event("e1", "view_item", "2024-03-05T10:00:00+01:00", session_id="s-tracker", items=[ITEM])), "clean"),
    (json.dumps(event("e2", "page_view", "2024-03-05T10:05:00+01:00", page="/")), "clean"),
    (json.dumps(event("e3", "page_view", "2024-03-05T10:25:00+01:00", page="/mugs")), "clean"),  # 20 min gap: same session
    (json.dumps(event("e4", "page_view", "2024-03-05T11:05:00+01:00", page="/")), "clean"),  # 40 min gap: new session
    ('{"event_id": "e5", "event_name": "page_view", "event_ti', "malformed_json"),
    ("[1, 2, 3]", "malformed_json"),
    (json.dumps(event("e6", "teleport", "2024-03-05T10:00:00Z")), "unknown_event_type"),
    (json.dumps(event("e7", "purchase", "2024-03-05T12:00:00Z", transaction_id="T1", value=-8.5,
                      items=[{**ITEM, "price": -8.5}])), "invalid_price"),
    (json.dumps(event("e8", "page_view", "2031-01-01T00:00:00Z")), "future_timestamp"),
    (json.dumps(event(None, "page_view", "2024-03-05T10:00:00Z")), "schema_violation"),
    (json.dumps(event("e1", "view_item", "2024-03-05T10:00:00+01:00", session_id="s-tracker", items=[ITEM])), "duplicate_event"),
    (json.dumps({"event_id": "e9", "event_type": "product_view", "event_time": "2024-03-05T13:00:00-05:00",
                 "device_id": "dev-b", "product_id": "P002", "product_name": "Lamp", "category": "Home",
                 "price": 30.0}), "clean"),  # legacy tracker: mapped to view_item, 18:00 UTC
    (json.dumps(event("e10", "page_view", "2020-01-01T00:00:00Z")), "ancient_timestamp"),
    (json.dumps(event("e11", "page_view", "2024-03-05 10:00:00")), "bad_timestamp"),  # no offset
    (json.dumps(event("e12", "view_item", "2024-03-05T10:00:00Z", anonymous_id="dev-c")), "missing_items"),
    ("", "blank"),
    (json.dumps(event("e13", "purchase", "2024-03-05T23:50:00Z", anonymous_id="dev-c", user_id="u1",
                      transaction_id="T2", value=17.0, items=[{**ITEM, "quantity": 2}])), "clean"),
    (json.dumps(event("e17", "purchase", "2024-03-05T12:30:00Z", transaction_id="T3", value=8.5, currency="pounds",
                      items=[ITEM])), "invalid_currency"),
]
# batch-0002.ndjson: a re-delivery of e2 in another file, and an invalid UTF-8 line
DAY1_BATCH2: list[tuple[bytes, str]] = [
    (json.dumps(event("e2", "page_view", "2024-03-05T10:05:00+01:00", page="/")).encode(), "duplicate_event"),
    (b'{"event_id": "e14", "event_name": "page_view", "page": "\xff\xfe"}', "invalid_encoding"),
]
# logs/20240305/e15.json: the classic one-file-per-event layout, pretty-printed
DAY1_LOG = event("e15", "search", "2024-03-05T15:00:00Z", anonymous_id="dev-d", search_term="mug")
# 2024-03-06: e3 delivered again a day later; dev-c continues its session across midnight (10 min gap);
# a quantity and a value outside their domains
DAY2_BATCH1: list[tuple[str, str]] = [
    (json.dumps(event("e3", "page_view", "2024-03-05T10:25:00+01:00", page="/mugs")), "duplicate_event"),
    (json.dumps(event("e16", "page_view", "2024-03-06T00:00:00Z", anonymous_id="dev-c", user_id="u1")), "clean"),
    # values outside their domain (event_schema.MAX_MONEY, MAX_ITEM_QUANTITY): quarantined, not coerced
    (json.dumps(event("e17", "add_to_cart", "2024-03-06T09:00:00Z", anonymous_id="dev-e",
                      items=[{**ITEM, "quantity": 1.7}])), "invalid_quantity"),
    (json.dumps(event("e18", "purchase", "2024-03-06T09:05:00Z", anonymous_id="dev-e", transaction_id="T3",
                      value=-500, items=[ITEM])), "invalid_value"),
]
# Whole files that are one quarantine record each, not read: (day folder, name, expected outcome)
BAD_FILES: list[tuple[str, str, str]] = [
    ("2024-03-05", "notes.txt", "not_an_event_file"),
    ("2024-03-05", "passwd.ndjson", "symlink_outside_landing"),  # a link to a file beside the landing root
    ("2024-03-06", "batch-0002.ndjson.gz", "unreadable_file"),  # a gzip stream cut short
]


# another tool's export (lines of the `legacy_actions` shape) in imports/legacy_actions/2024-03-05/:
# a cart add maps to an event, an `abandon` maps to none (the platform derives abandonment)
IMPORT_DAY1: list[tuple[str, str]] = [
    ('{"event_id":"la-1","customer_id":"77","action":"add_to_cart","product_title":"Oak Board",'
     '"product_price":24.5,"timestamp":"2024-03-05T11:00:00Z"}', "clean"),
    ('{"event_id":"la-2","customer_id":"77","action":"abandon","product_title":"Oak Board",'
     '"product_price":24.5,"timestamp":"2024-03-05T11:40:00Z"}', "unmappable_event"),
]


def write_import(root: Path) -> None:
    folder = root / "imports" / "legacy_actions" / "2024-03-05"
    folder.mkdir(parents=True)
    (folder / "export.ndjson").write_text("\n".join(line for line, _ in IMPORT_DAY1) + "\n")


def write_landing(root: Path, gzip_day2: bool = False) -> None:
    day1 = root / "events" / "2024-03-05"
    day1.mkdir(parents=True)
    (day1 / "batch-0001.ndjson").write_text("\n".join(line for line, _ in DAY1_BATCH1) + "\n")
    (day1 / "batch-0002.ndjson").write_bytes(b"\n".join(line for line, _ in DAY1_BATCH2) + b"\n")
    logs = root / "logs" / "20240305"
    logs.mkdir(parents=True)
    (logs / "e15.json").write_text(json.dumps(DAY1_LOG, indent=2))
    day2 = root / "events" / "2024-03-06"
    day2.mkdir(parents=True)
    payload = ("\n".join(line for line, _ in DAY2_BATCH1) + "\n").encode()
    if gzip_day2:
        import gzip

        (day2 / "batch-0001.ndjson.gz").write_bytes(gzip.compress(payload))
    else:
        (day2 / "batch-0001.ndjson").write_bytes(payload)
    import gzip

    (day1 / "notes.txt").write_text("a note left in the delivery folder")
    outside = root.parent / f"{root.name}-outside.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (day1 / "passwd.ndjson").symlink_to(outside)
    (day2 / "batch-0002.ndjson.gz").write_bytes(gzip.compress(payload)[:-8])


def expected_outcomes(day: str, with_import: bool = False) -> dict[str, int]:
    rows = {
        "2024-03-05": [o for _, o in DAY1_BATCH1] + [o for _, o in DAY1_BATCH2] + ["clean"]
        + ([o for _, o in IMPORT_DAY1] if with_import else []),
        "2024-03-06": [o for _, o in DAY2_BATCH1],
    }[day] + [o for folder, _, o in BAD_FILES if folder == day]
    counts: dict[str, int] = {}
    for outcome in rows:
        if outcome != "blank":
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts
