"""event_validation.py and the cleaning SQL give the same verdict, event by event.

A corpus of hand-written events (every reason code the collector can return, and the edge cases
of each rule) is written as a landing file of today (the day a collector would land it) and
cleaned by the real cleaning functions; the Python validator judges the same events for the same
landing day. Any rule changed on one side only fails here.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from shopverse_platform.lib.cleaning import events as event_cleaning
from shopverse_platform.lib.cleaning.event_schema import QUARANTINE_REASONS
from shopverse_platform.lib.cleaning.event_validation import parse_event_time, validate_event
from shopverse_platform.lib.ingestion import landing

ITEM = {"item_id": "P1", "item_name": "Mug", "item_category": "Kitchen", "price": 8.5, "quantity": 1}


def _corpus(today: date) -> list[tuple[object, str | None]]:
    """(event, the verdict expected from both sides: a reason code or None) for landing day ``today``."""
    t = f"{today.isoformat()}T00:30:00"  # early in the day: never after now + 1 hour
    y = (today - timedelta(days=1)).isoformat()
    # for the UTC offsets: t at -14:00 is 14:30 UTC today, after now + 1 hour until 13:30 UTC; the
    # same wall time yesterday is in the past whenever the test runs
    offset_base = f"{y}T00:30:00"
    ids = iter(range(1, 1000))

    def ev(name="page_view", time=t + "Z", **fields):
        body = {"event_id": f"c{next(ids)}", "event_name": name, "event_time": time, "anonymous_id": "a1"}
        body.update(fields)
        return {k: v for k, v in body.items() if v is not None}

    def item(**fields):
        return {**ITEM, **fields}

    ancient = (today - timedelta(days=event_cleaning.EventRules().max_lateness_days + 1)).isoformat()
    just_in = (today - timedelta(days=event_cleaning.EventRules().max_lateness_days)).isoformat()
    return [
        (ev(), None),
        (ev("view_item", items=[ITEM], session_id="s1", page="/mug"), None),
        (ev("purchase", items=[item(quantity=2)], value=17, currency="EUR", transaction_id="T1"), None),
        (ev("refund", items=[ITEM], value=8.5, currency="gbp"), None),
        (ev("search", search_term="mug", unknown_key={"nested": [1, 2]}), None),  # unknown keys ignored
        (ev(received_at=f"{today.isoformat()}T09:00:00.123456Z"), None),  # as the collector stores it
        # schema
        ([1, 2, 3], "malformed_json"),
        ("just a string", "malformed_json"),
        (ev(event_id=None) | {"event_id": None}, "schema_violation"),
        ({"event_name": "page_view", "event_time": t + "Z", "anonymous_id": "a"}, "schema_violation"),
        (ev(event_id="   "), "schema_violation"),
        (ev(event_id=""), "schema_violation"),
        (ev(event_id=42), None),  # a number reads as its text
        ({"event_id": "x1", "event_time": t + "Z", "anonymous_id": "a"}, "schema_violation"),
        ({"event_id": "x2", "event_name": "page_view", "anonymous_id": "a"}, "schema_violation"),
        ({"event_id": "x3", "event_name": "page_view", "event_time": t + "Z"}, "schema_violation"),
        ({"event_id": "x4", "event_name": "page_view", "event_time": t + "Z", "device_id": "d1"}, None),
        ({"event_id": "x5", "event_type": "product_view", "event_time": t + "Z", "device_id": "d1",
          "product_id": "P2", "price": 30.0}, None),  # legacy names and flat fields
        ({"event_id": "x6", "event_type": "cart_add", "event_time": t + "Z", "device_id": "d1",
          "product_id": "P2", "price": "12,50"}, "invalid_price"),
        ({"event_id": "x7", "event_type": "order_completed", "event_time": t + "Z", "device_id": "d1",
          "product_id": "P2", "price": 4, "quantity": 1.7}, "invalid_quantity"),
        ({"event_id": "x8", "event_type": "cart_add", "event_time": t + "Z", "device_id": "d1"}, "missing_items"),
        (ev("teleport"), "unknown_event_type"),
        (ev(7), "unknown_event_type"),
        (ev("PAGE_VIEW"), "unknown_event_type"),
        # timestamps
        (ev(time=t), "bad_timestamp"),  # no offset
        (ev(time=offset_base + "+14:00"), None),
        (ev(time=offset_base + "+14:01"), "bad_timestamp"),
        (ev(time=offset_base + "-14:00"), None),
        (ev(time=offset_base + "+1400"), None),
        (ev(time=offset_base + "+13"), None),
        (ev(time=offset_base + "+05:60"), "bad_timestamp"),
        (ev(time=t.replace("T", " ") + "Z"), None),
        (ev(time=f"{today.isoformat()}T00:30Z"), None),
        (ev(time=t + ".123456789Z"), None),
        (ev(time=f"{y}T24:00:00Z"), None),  # DuckDB reads it as midnight
        (ev(time=f"{today.year}-02-30T10:00:00Z"), "bad_timestamp"),
        (ev(time=f"{y}T23:59:60Z"), "bad_timestamp"),
        (ev(time=12345), "bad_timestamp"),
        (ev(time="yesterday"), "bad_timestamp"),
        (ev(time=(today + timedelta(days=3)).isoformat() + "T00:00:00Z"), "future_timestamp"),
        (ev(time=(datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")), "future_timestamp"),
        (ev(time=ancient + "T23:59:59Z"), "ancient_timestamp"),
        (ev(time=just_in + "T00:00:00Z"), None),
        (ev(time="0000-01-01T00:00:00Z"), "ancient_timestamp"),
        # items, prices, quantities, values, currencies
        (ev("add_to_cart"), "missing_items"),
        (ev("add_to_cart", items=[]), "missing_items"),
        (ev("add_to_cart", items="P1"), "missing_items"),
        (ev("add_to_cart", items=["P1"]), None),  # an item that is not an object has nothing in it
        (ev("purchase", items=["P1"], value=1), "invalid_price"),
        (ev("refund"), "invalid_price"),  # no items: no price
        (ev("purchase", items=[item(price=None)]), "invalid_price"),
        (ev("purchase", items=[item(price="12,50")]), "invalid_price"),
        (ev("purchase", items=[item(price="12.50")]), None),
        (ev("purchase", items=[item(price=" 12 ")]), None),
        (ev("purchase", items=[item(price="NaN")]), "invalid_price"),
        (ev("purchase", items=[item(price="inf")]), "invalid_price"),
        (ev("purchase", items=[item(price=-0.01)]), "invalid_price"),
        (ev("purchase", items=[item(price=1e9)]), "invalid_price"),
        (ev("purchase", items=[item(price=999999999.99)]), None),
        (ev("purchase", items=[item(price=True)]), "invalid_price"),
        (ev("purchase", items=[item(price=[1])]), "invalid_price"),
        (ev("view_item", items=[item(price="two")]), "invalid_price"),
        (ev("view_item", items=[item(price=None, quantity=None)]), None),
        (ev("add_to_cart", items=[item(quantity=1.7)]), "invalid_quantity"),
        (ev("add_to_cart", items=[item(quantity="3")]), None),
        (ev("add_to_cart", items=[item(quantity=3.0)]), None),
        (ev("add_to_cart", items=[item(quantity=0)]), "invalid_quantity"),
        (ev("add_to_cart", items=[item(quantity=100_001)]), "invalid_quantity"),
        (ev("add_to_cart", items=[item(quantity=100_000)]), None),
        (ev("add_to_cart", items=[item(quantity="1_000")]), None),
        (ev("add_to_cart", items=[item(quantity="0x10")]), "invalid_quantity"),
        (ev("add_to_cart", items=[item(price=-1, quantity=0)]), "invalid_price"),  # price is judged first
        (ev("page_view", value="NaN"), "invalid_value"),
        (ev("page_view", value=-1), "invalid_value"),
        (ev("page_view", value="5"), None),
        (ev("page_view", value={"a": 1}), "invalid_value"),
        (ev("purchase", items=[ITEM], currency="pounds"), "invalid_currency"),
        (ev("purchase", items=[ITEM], currency=" usd "), None),
        (ev("purchase", items=[ITEM], currency=123), "invalid_currency"),
        (ev("page_view", currency="pounds"), None),  # only money events carry a currency rule
        (ev("purchase", items=[ITEM], value=-1, currency="pounds"), "invalid_value"),
    ]


def test_validator_and_cleaning_sql_agree_on_every_event(tmp_path: Path) -> None:
    today = datetime.now(timezone.utc).date()
    corpus = _corpus(today)
    reasons = {expected for _, expected in corpus} - {None}
    # every reason the collector can give is exercised (the file-level ones, duplicates and the
    # import adapters' unmappable records are not its)
    assert reasons == set(QUARANTINE_REASONS) - {"invalid_encoding", "duplicate_event", "unreadable_file",
                                                 "not_an_event_file", "symlink_outside_landing",
                                                 "unmappable_event"}
    day_dir = tmp_path / "landing" / "events" / today.isoformat()
    day_dir.mkdir(parents=True)
    (day_dir / "corpus.ndjson").write_text("".join(json.dumps(e) + "\n" for e, _ in corpus))
    files = landing.event_files(tmp_path / "landing" / "events", tmp_path / "landing" / "logs", today, today + timedelta(days=1))
    with duckdb.connect() as con:
        event_cleaning.clean_event_lines(con, iter([(today, today + timedelta(days=1), landing.read_lines(files))]),
                                         event_cleaning.EventRules())
        quarantined = dict(con.execute("SELECT line_number, reason_code FROM quarantine").fetchall())
        clean = con.execute("SELECT count(*) FROM clean_events").fetchone()[0]
    sql_verdicts = [quarantined.get(n) for n in range(1, len(corpus) + 1)]
    assert clean == sum(v is None for v in sql_verdicts)
    now = datetime.now(timezone.utc)
    py_verdicts = [(v or (None,))[0] for v in (validate_event(e, today, now) for e, _ in corpus)]
    expected = [e for _, e in corpus]
    differing = [(i + 1, corpus[i][0], s, p) for i, (s, p) in enumerate(zip(sql_verdicts, py_verdicts)) if s != p]
    assert not differing
    assert py_verdicts == expected


def test_a_time_sent_without_seconds_is_read_as_its_whole_minute(tmp_path: Path) -> None:
    # DuckDB 1.5 cannot cast "10:30Z" or "10:30+01:30" (2.0 can): the cleaning SQL adds the seconds
    today = datetime.now(timezone.utc).date()
    y = today - timedelta(days=1)
    at = datetime(y.year, y.month, y.day, 10, 30)
    sent = {  # what each offset makes of 10:30 yesterday in UTC, worked out by hand
        f"{y}T10:30Z": at,
        f"{y} 10:30+01:30": at - timedelta(hours=1, minutes=30),
        f"{y}T10:30-0130": at + timedelta(hours=1, minutes=30),
        f"{y}T10:30+14": at - timedelta(hours=14),
        f"{y}T10:30-1359": at + timedelta(hours=13, minutes=59),
        f"{y}T10:30:07Z": at + timedelta(seconds=7),  # seconds sent: read as sent
    }
    day_dir = tmp_path / "landing" / "events" / today.isoformat()
    day_dir.mkdir(parents=True)
    (day_dir / "times.ndjson").write_text("".join(
        json.dumps({"event_id": f"t{n}", "event_name": "page_view", "event_time": time, "anonymous_id": "a1"}) + "\n"
        for n, time in enumerate(sent)))
    files = landing.event_files(tmp_path / "landing" / "events", tmp_path / "landing" / "logs", today, today + timedelta(days=1))
    with duckdb.connect() as con:
        event_cleaning.clean_event_lines(con, iter([(today, today + timedelta(days=1), landing.read_lines(files))]),
                                         event_cleaning.EventRules())
        read = dict(con.execute("SELECT event_id, event_ts FROM clean_events").fetchall())
    assert read == {f"t{n}": ts for n, ts in enumerate(sent.values())}


def test_event_time_parsing_matches_duckdb_on_the_edges() -> None:
    assert parse_event_time("2024-03-05T10:00:00+14:00") == datetime(2024, 3, 4, 20, 0)
    assert parse_event_time("2024-03-05 10:00+0100") == datetime(2024, 3, 5, 9, 0)
    assert parse_event_time("2024-03-05T10:00:00.1234567-1359") == datetime(2024, 3, 5, 23, 59, 0, 123456)
    assert parse_event_time("2024-03-05T24:00:00Z") == datetime(2024, 3, 6)
    assert parse_event_time("2024-03-05T10:00:00+14:01") is None
    assert parse_event_time("2024-03-05T10:00:00") is None


@pytest.mark.parametrize("detail_of", ["schema_violation", "invalid_price"])
def test_verdicts_carry_a_readable_detail(detail_of: str) -> None:
    today = date(2024, 3, 5)
    event = {"event_id": "e", "event_name": "purchase", "event_time": "2024-03-05T10:00:00Z", "anonymous_id": "a",
             "items": [{"item_id": "P", "price": "12,50"}]}
    if detail_of == "schema_violation":
        event.pop("anonymous_id")
    reason, detail = validate_event(event, today, datetime(2024, 3, 5, 12, tzinfo=timezone.utc))
    assert reason == detail_of
    assert detail and ("anonymous_id" in detail if detail_of == "schema_violation" else "12,50" in detail)
