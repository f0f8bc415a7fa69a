"""Values outside a documented domain are quarantined with a reason, never coerced; the quarantine
keeps the delivered bytes; an event is clean once, whichever landing day is cleaned first.

Every line below is written by hand with the outcome it must get beside it (the line number in its
file, the reason code and the detail showing the value as it was sent)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from shopverse_platform.defs.cleaning.assets import clean_events, clean_events_checks
from shopverse_platform.defs.ingestion.assets import raw_events
from shopverse_platform.defs.metrics.facts import order_lines
from shopverse_platform.lib.cleaning import events as event_cleaning
from shopverse_platform.lib.cleaning.event_schema import MAX_ITEM_QUANTITY, MAX_MONEY, QUARANTINE_REASONS
from shopverse_platform.lib.ingestion import landing
from shopverse_platform_tests.conftest import materialize_range

DAY = "2024-03-05"
EVENT_ASSETS = [raw_events, clean_events, clean_events_checks]


def item(price: str | None = "8.5", quantity: str | None = "1", item_id: str = "P001") -> str:
    """One item as JSON text, with the price and quantity written exactly as given (None: absent)."""
    fields = [f'"item_id": "{item_id}"', '"item_name": "Mug"', '"item_category": "Kitchen"']
    fields += [f'"price": {price}'] if price is not None else []
    fields += [f'"quantity": {quantity}'] if quantity is not None else []
    return "{" + ", ".join(fields) + "}"


def line(event_id: str, name: str, *, time: str = "2024-03-05T10:00:00Z", items: list[str] | None = None,
         value: str | None = None, transaction_id: str | None = None) -> str:
    """One event line as JSON text; ``value`` is written verbatim (so NaN, 1e400 or "12,50" stay as sent)."""
    text = f'{{"event_id": "{event_id}", "event_name": "{name}", "event_time": "{time}", "anonymous_id": "dev-a"'
    if items is not None:
        text += ', "items": [' + ", ".join(items) + "]"
    if value is not None:
        text += f', "value": {value}, "currency": "GBP"'
    if transaction_id is not None:
        text += f', "transaction_id": "{transaction_id}"'
    return text + "}"


def write_day(landing: Path, day: str, lines: list[str] | list[bytes], name: str = "batch-0001.ndjson") -> None:
    folder = landing / "events" / day
    folder.mkdir(parents=True, exist_ok=True)
    data = [x if isinstance(x, bytes) else x.encode() for x in lines]
    (folder / name).write_bytes(b"\n".join(data) + b"\n")


def run(resources, start: str = DAY, end: str = DAY, assets=EVENT_ASSETS):
    result = materialize_range(assets, resources, start, end)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    # every line accounted for and no event_id twice: the blocking checks pass
    assert checks.get("clean_events_reconciles_with_raw", True) and checks.get("clean_events_event_id_unique", True)
    return result


def quarantined(query, day: str = DAY) -> list[tuple]:
    return query("SELECT line_number, reason_code, reason_detail FROM quarantine "
                 "WHERE source = 'events' AND partition_date = ? ORDER BY line_number", [day])


def clean_ids(query, day: str = DAY) -> list[str]:
    return [e for (e,) in query("SELECT event_id FROM clean_events WHERE partition_date = ? ORDER BY source_file, line_number", [day])]


def test_the_domains_are_documented_and_fit_the_downstream_decimals():
    """The largest accepted line (price x quantity) fits DECIMAL(18,2) a hundred times over, and
    every new reason code is documented in docs/events.md."""
    assert Decimal(str(MAX_MONEY)) * MAX_ITEM_QUANTITY * 100 <= Decimal("1e16")
    assert Decimal(str(MAX_MONEY)) < Decimal("1e15")  # DECIMAL(18,3) unit prices
    docs = (Path(__file__).parents[2] / "docs" / "events.md").read_text()
    for code in ("invalid_quantity", "invalid_value", "invalid_price", "bad_timestamp"):
        assert code in QUARANTINE_REASONS and f"`{code}`" in docs


def test_purchase_values_outside_money_are_quarantined_as_invalid_value(landing_dir, resources, query):
    lines = [
        line("v1", "purchase", items=[item()], value="-500", transaction_id="T1"),
        line("v2", "purchase", items=[item()], value="NaN", transaction_id="T2"),
        line("v3", "purchase", items=[item()], value="Infinity", transaction_id="T3"),
        line("v4", "purchase", items=[item()], value="1.2e29", transaction_id="T4"),
        line("v5", "purchase", items=[item()], value='"12,50"', transaction_id="T5"),
        line("v6", "purchase", items=[item()], value="1e9", transaction_id="T6"),  # the maximum is excluded
        line("v7", "purchase", items=[item(price="999999999.99")], value="999999999.99", transaction_id="T7"),
        line("v8", "purchase", items=[item(price="0")], value="0", transaction_id="T8"),  # a free order
        # a refund carries the positive value of what it returns, like the purchase: it stays valid
        line("v9", "refund", time="2024-03-05T11:00:00Z", items=[item(quantity="2")], value="17.0", transaction_id="T1"),
        line("v10", "purchase", items=[item()], value='"8.50"', transaction_id="T10"),  # a numeric string, as before
        line("v11", "purchase", items=[item()], transaction_id="T11"),  # no value: not required
    ]
    write_day(landing_dir, DAY, lines)
    run(resources)
    assert quarantined(query) == [
        (1, "invalid_value", "value=-500"),
        (2, "invalid_value", "value=NaN"),
        (3, "invalid_value", "value=Infinity"),
        (4, "invalid_value", "value=1.2e29"),
        (5, "invalid_value", 'value="12,50"'),
        (6, "invalid_value", "value=1000000000.0"),  # numbers show as the JSON reader rewrites them
    ]
    assert query("SELECT event_id, value FROM clean_events ORDER BY line_number") == [
        ("v7", 999999999.99), ("v8", 0.0), ("v9", 17.0), ("v10", 8.5), ("v11", None),
    ]


def test_poison_prices_are_quarantined_and_order_lines_builds(landing_dir, resources, query):
    """NaN, Infinity, 1e400 and 1e16 used to pass cleaning and fail order_lines for the whole window
    (``Could not cast value nan to DECIMAL(18,3)``); "12,50" became a NULL price."""
    lines = [
        line("p1", "purchase", items=[item(price="NaN")], value="8.5", transaction_id="T1"),
        line("p2", "purchase", items=[item(price="Infinity")], value="8.5", transaction_id="T2"),
        line("p3", "purchase", items=[item(price="1e400")], value="8.5", transaction_id="T3"),
        line("p4", "purchase", items=[item(price="1e16")], value="8.5", transaction_id="T4"),
        line("p5", "purchase", items=[item(price='"12,50"')], value="8.5", transaction_id="T5"),
        line("p6", "purchase", items=[item(), item(price='"NaN"', item_id="P002")], value="8.5", transaction_id="T6"),
        line("p7", "add_to_cart", items=[item(price="-Infinity")]),  # any event's price, when sent
        line("p8", "purchase", items=[item(price=None)], value="8.5", transaction_id="T8"),  # a sale needs its price
        line("p9", "purchase", items=[item(price='"12.50"')], value="12.5", transaction_id="T9"),  # numeric string
        line("p10", "purchase", time="2024-03-05T12:00:00Z", items=[item(quantity="2")], value="17.0", transaction_id="T10"),
        line("p11", "view_item", items=[item(price=None)]),  # a view may omit the price
        line("p12", "purchase", items=[item(price="NaN", quantity="0")], value="-1", transaction_id="T12"),  # first rule wins
    ]
    write_day(landing_dir, DAY, lines)
    run(resources, assets=EVENT_ASSETS + [order_lines])
    assert quarantined(query) == [
        (1, "invalid_price", "prices=[NaN]"),
        (2, "invalid_price", "prices=[Infinity]"),
        (3, "invalid_price", "prices=[1e400]"),
        (4, "invalid_price", "prices=[10000000000000000.0]"),
        (5, "invalid_price", 'prices=["12,50"]'),
        (6, "invalid_price", 'prices=[8.5, "NaN"]'),
        (7, "invalid_price", "prices=[-Infinity]"),
        (8, "invalid_price", "prices=[NULL]"),
        (12, "invalid_price", "prices=[NaN]"),
    ]
    assert clean_ids(query) == ["p9", "p10", "p11"]
    assert query("SELECT event_id, items[1].price, items[1].quantity FROM clean_events ORDER BY line_number") == [
        ("p9", 12.5, 1), ("p10", 8.5, 2), ("p11", None, 1),
    ]
    # the window builds, with the two valid sales only
    assert query("SELECT document_id, quantity, unit_price, line_amount FROM order_lines ORDER BY document_id") == [
        ("T10", 2, Decimal("8.500"), Decimal("17.00")), ("T9", 1, Decimal("12.500"), Decimal("12.50")),
    ]


def test_quantities_must_be_positive_whole_numbers(landing_dir, resources, query):
    legacy = '{"event_id": "q11", "event_type": "cart_add", "event_time": "2024-03-05T10:00:00Z", "device_id": "dev-b", ' \
             '"product_id": "P002", "product_name": "Lamp", "category": "Home", "price": 30.0, "quantity": %s}'
    legacy_without = ('{"event_id": "q12", "event_type": "cart_add", "event_time": "2024-03-05T10:00:00Z", '
                      '"device_id": "dev-b", "product_id": "P002", "product_name": "Lamp", "category": "Home", "price": 30.0}')
    lines = [
        line("q1", "add_to_cart", items=[item(quantity="0")]),
        line("q2", "add_to_cart", items=[item(quantity="-3")]),
        line("q3", "add_to_cart", items=[item(quantity="1.7")]),  # was rounded to 2
        line("q4", "purchase", items=[item(quantity='"two"')], value="8.5", transaction_id="T4"),  # was NULL, then 1
        line("q5", "add_to_cart", items=[item(quantity=str(MAX_ITEM_QUANTITY + 1))]),
        line("q6", "add_to_cart", items=[item(quantity="true")]),
        line("q7", "add_to_cart", items=[item(), item(quantity="1e10", item_id="P002")]),
        line("q8", "purchase", items=[item(quantity=None)], value="8.5", transaction_id="T8"),  # missing: one
        line("q9", "add_to_cart", items=[item(quantity="2.0")]),  # a whole number written as a decimal
        line("q10", "add_to_cart", items=[item(quantity='"3"')]),  # a numeric string, as before
        legacy % "1.7",
        legacy_without,  # the legacy tracker's missing quantity was always one
        line("q13", "add_to_cart", items=[item(quantity=str(MAX_ITEM_QUANTITY))]),
    ]
    write_day(landing_dir, DAY, lines)
    run(resources, assets=EVENT_ASSETS + [order_lines])
    assert quarantined(query) == [
        (1, "invalid_quantity", "quantities=[0]"),
        (2, "invalid_quantity", "quantities=[-3]"),
        (3, "invalid_quantity", "quantities=[1.7]"),
        (4, "invalid_quantity", 'quantities=["two"]'),
        (5, "invalid_quantity", f"quantities=[{MAX_ITEM_QUANTITY + 1}]"),
        (6, "invalid_quantity", "quantities=[true]"),
        (7, "invalid_quantity", "quantities=[1, 10000000000.0]"),
        (11, "invalid_quantity", "quantities=[1.7]"),
    ]
    assert query("SELECT event_id, [i.quantity FOR i IN items] FROM clean_events ORDER BY line_number") == [
        ("q8", [None]), ("q9", [2]), ("q10", [3]), ("q12", [1]), ("q13", [MAX_ITEM_QUANTITY]),
    ]
    # a missing quantity counts as one sale
    assert query("SELECT document_id, quantity, line_amount FROM order_lines") == [("T8", 1, Decimal("8.50"))]


def test_timestamp_offsets_must_be_real(landing_dir, resources, query):
    times = [
        ("2024-03-05T10:00:00+99:99", "bad_timestamp"),
        ("2024-03-05T10:00:00+14:30", "bad_timestamp"),
        ("2024-03-05T10:00:00-15:00", "bad_timestamp"),
        ("2024-03-05T10:00:00+05:60", "bad_timestamp"),
        ("2024-03-05T10:00:00+1460", "bad_timestamp"),
        ("2024-03-05T10:00:00+14:00", datetime(2024, 3, 4, 20, 0)),
        ("2024-03-05T10:00:00-14:00", datetime(2024, 3, 6, 0, 0)),
        ("2024-03-05T10:00:00-12:00", datetime(2024, 3, 5, 22, 0)),
        ("2024-03-05T10:00:00+05:45", datetime(2024, 3, 5, 4, 15)),
        ("2024-03-05T10:00:00+0530", datetime(2024, 3, 5, 4, 30)),
        ("2024-03-05T10:00:00-09", datetime(2024, 3, 5, 19, 0)),
    ]
    write_day(landing_dir, DAY, [line(f"t{n}", "page_view", time=t) for n, (t, _) in enumerate(times, start=1)])
    run(resources)
    assert quarantined(query) == [
        (n, "bad_timestamp", f"event_time={t}") for n, (t, outcome) in enumerate(times, start=1) if outcome == "bad_timestamp"
    ]
    assert query("SELECT event_id, event_ts FROM clean_events ORDER BY line_number") == [
        (f"t{n}", outcome) for n, (_, outcome) in enumerate(times, start=1) if outcome != "bad_timestamp"
    ]


BAD_BATCH_LINE = b'{"event_id": "b1", "event_name": "page_view", "page": "\xff\xfe caf\xe9"}'
BAD_LOG_FILE = b'{\n  "event_id": "b2",\n  "page": "\xc3\x28"\n}'


def test_invalid_utf8_keeps_the_delivered_bytes(landing_dir, resources, query):
    write_day(landing_dir, DAY, [line("ok1", "page_view"), BAD_BATCH_LINE, b"not json"])
    write_day(landing_dir, DAY, [line("ok2", "page_view")], name="batch-0002.ndjson")  # valid: Polars reads it
    logs = landing_dir / "logs" / "20240305"
    logs.mkdir(parents=True)
    (logs / "b2.json").write_bytes(BAD_LOG_FILE)
    # the reader carries the bytes of the invalid lines only, whichever path read them
    lines = landing.read_lines(landing.event_files(landing_dir / "events", logs.parent, date(2024, 3, 5), date(2024, 3, 6)))
    assert sorted((Path(r["source_file"]).name, r["line_number"], r["raw_bytes"]) for r in lines.to_pylist()) == [
        ("b2.json", 1, BAD_LOG_FILE), ("batch-0001.ndjson", 1, None), ("batch-0001.ndjson", 2, BAD_BATCH_LINE),
        ("batch-0001.ndjson", 3, None), ("batch-0002.ndjson", 1, None),
    ]
    run(resources)
    rows = query("SELECT source_file, line_number, reason_code, raw_line, raw_bytes FROM quarantine ORDER BY ALL")
    assert [(Path(f).name, n, r, text, data) for f, n, r, text, data in rows] == [
        ("batch-0001.ndjson", 2, "invalid_encoding",
         '{"event_id": "b1", "event_name": "page_view", "page": "\ufffd\ufffd caf\ufffd"}', BAD_BATCH_LINE),
        ("batch-0001.ndjson", 3, "malformed_json", "not json", None),  # valid UTF-8: the text is the line
        ("b2.json", 1, "invalid_encoding", '{\n  "event_id": "b2",\n  "page": "\ufffd("\n}', BAD_LOG_FILE),
    ]
    assert clean_ids(query) == ["ok1", "ok2"]


def test_a_warehouse_from_before_raw_bytes_gains_the_column(landing_dir, resources, warehouse, query):
    with warehouse.connect() as con:
        con.execute("CREATE TABLE quarantine (source VARCHAR NOT NULL, partition_date DATE NOT NULL, source_file VARCHAR, "
                    "line_number INTEGER, reason_code VARCHAR NOT NULL, reason_detail VARCHAR, record_key VARCHAR, raw_line VARCHAR)")
        con.execute("INSERT INTO quarantine VALUES ('orders', '2011-01-01', 'x.csv', 2, 'duplicate_line', 'd', '536365', 'l')")
    write_day(landing_dir, DAY, [BAD_BATCH_LINE])
    run(resources)
    assert query("SELECT source, reason_code, raw_bytes FROM quarantine ORDER BY source") == [
        ("events", "invalid_encoding", BAD_BATCH_LINE), ("orders", "duplicate_line", None),
    ]


def test_a_late_file_on_an_earlier_day_re_delivering_a_clean_event_is_the_duplicate(landing_dir, resources, warehouse, query):
    """Day 2 is cleaned with event L; then a late file lands on day 1 re-delivering L. Cleaning day 1
    used to look only backwards and commit L a second time (the uniqueness check then failed after
    the write). The copy already clean on day 2 stays; the late copy is the duplicate, and
    re-cleaning either day, or both together, keeps clean_events holding L once."""
    day1, day2 = "2024-03-05", "2024-03-06"
    event_l = line("L", "page_view", time="2024-03-05T23:30:00Z")
    write_day(landing_dir, day1, [line("a1", "page_view")])
    write_day(landing_dir, day2, [line("a2", "page_view", time="2024-03-06T09:00:00Z"), event_l])
    run(resources, day1, day2)
    assert query("SELECT partition_date FROM clean_events WHERE event_id = 'L'") == [(date(2024, 3, 6),)]

    write_day(landing_dir, day1, [event_l], name="batch-0002-late.ndjson")
    expected_quarantine = [(date(2024, 3, 5), "batch-0002-late.ndjson", 1, "duplicate_event", "event_id L already delivered")]

    def state():
        rows = query("SELECT partition_date, source_file, line_number, reason_code, reason_detail FROM quarantine ORDER BY ALL")
        return [(d, Path(f).name, n, r, detail) for d, f, n, r, detail in rows], query(
            "SELECT event_id, partition_date FROM clean_events ORDER BY event_id")

    expected = (expected_quarantine, [("L", date(2024, 3, 6)), ("a1", date(2024, 3, 5)), ("a2", date(2024, 3, 6))])
    for start, end in ((day1, day1), (day1, day1), (day2, day2)):  # the late day, again, then the other
        run(resources, start, end)
        assert state() == expected, (start, end)
    # per day: raw = clean + quarantined + duplicates, counted by the cleaning layer's reconciliation
    with warehouse.connect() as con:
        for day, counts in ((date(2024, 3, 5), (2, 1, 0, 1)), (date(2024, 3, 6), (2, 2, 0, 0))):
            assert tuple(event_cleaning.reconcile(con, "events", day, day + timedelta(days=1)).values()) == counts
    # both days in one run but cleaned a day at a time: each day sees the other's clean copy, so the
    # state holds (it depends on which copy was clean first, not on the grouping of this run)
    chunked = {"ops": {"clean_events": {"config": {"chunk_megabytes": 0}}}}
    assert materialize_range(EVENT_ASSETS, resources, day1, day2, run_config=chunked).success
    assert state() == expected
    # both days in one group: the earliest delivery wins within the group (documented rule)
    run(resources, day1, day2)
    assert query("SELECT event_id, partition_date FROM clean_events WHERE event_id = 'L'") == [("L", date(2024, 3, 5))]
    assert query("SELECT partition_date, reason_code FROM quarantine") == [(date(2024, 3, 6), "duplicate_event")]
    for start, end in ((day1, day1), (day2, day2), (day1, day2)):  # and it holds from then on
        run(resources, start, end)
        assert query("SELECT event_id, partition_date FROM clean_events WHERE event_id = 'L'") == [("L", date(2024, 3, 5))]
        assert query("SELECT partition_date, reason_code FROM quarantine") == [(date(2024, 3, 6), "duplicate_event")]
    assert event_cleaning.history_end(date(2024, 3, 6), event_cleaning.EventRules()) - date(2024, 3, 6) == (
        date(2024, 3, 6) - event_cleaning.history_start(date(2024, 3, 6), event_cleaning.EventRules()))


def test_the_fixture_lines_still_parse_like_json_numbers(landing_dir, resources, query):
    """Prices read as JSON text and typed in SQL equal what the JSON reader typed before (doubles)."""
    prices = ["19.99", "0.1", "1234.5678", "3", "1e2", "999.995"]
    write_day(landing_dir, DAY, [line(f"n{k}", "view_item", items=[item(price=p)]) for k, p in enumerate(prices)])
    run(resources)
    assert query("SELECT items[1].price FROM clean_events ORDER BY line_number") == [(json.loads(p),) for p in prices]

