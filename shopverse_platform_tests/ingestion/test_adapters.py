"""Import adapters (lib/ingestion/adapters): each format's mapping, record by record, against
hand-computed expectations; rejections are explicit; derived ids are stable."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopverse_platform.lib.cleaning.event_schema import EVENT_TYPES
from shopverse_platform.lib.ingestion.adapters import Rejection, convert, load_sources, sniff_format
from shopverse_platform.lib.ingestion.adapters.ga4 import GA4_EVENT_TYPES
from shopverse_platform.lib.ingestion.adapters.registry import UnknownSource

FIXTURES = Path(__file__).parent / "fixtures" / "imports"


def _lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text("utf-8").splitlines()


def _id(fmt: str, *parts, ordinal: int = 0) -> str:
    """The documented derivation, written out independently of the adapter."""
    key = json.dumps([fmt, *[None if p is None else str(p) for p in parts]], ensure_ascii=False)
    return f"{fmt}-" + hashlib.sha256(f"{key}#{ordinal}".encode()).hexdigest()[:32]


def test_ga4_event_types_are_shopverse_event_types():
    assert set(GA4_EVENT_TYPES) == set(EVENT_TYPES)


def test_legacy_actions_mapping():
    out = convert("legacy_actions", _lines("legacy_actions.ndjson"))
    assert out[0] == {"event_id": "a-1", "event_name": "add_to_cart", "event_time": "2024-01-01T12:00:00+00:00",
                      "user_id": "123", "anonymous_id": "customer:123",
                      "items": [{"item_id": "Blue Mug", "item_name": "Blue Mug", "price": 29.99, "quantity": 1}]}
    assert out[1]["event_name"] == "remove_from_cart" and out[1]["event_id"] == "a-2"
    assert out[2] == {"event_id": "a-3", "event_name": "purchase", "event_time": "2024-01-01T12:05:00+01:00",
                      "user_id": "123", "anonymous_id": "customer:123",
                      "items": [{"item_id": "Teapot", "item_name": "Teapot", "price": 45.5, "quantity": 1}],
                      "value": 45.5}
    assert out[3] == Rejection("unmappable_event",
                               "legacy_actions: action 'abandon': cart abandonment is derived by the platform, not imported")
    assert out[4] == Rejection("unmappable_event", "legacy_actions: missing required field(s) customer_id")
    # a time that does not parse is passed on as sent: cleaning quarantines it as bad_timestamp
    assert out[5]["event_time"] == "01/01/2024 13:00"
    assert len(out) == 6


def test_legacy_data_mapping_derives_ids_and_applies_the_shop_time_zone():
    out = convert("legacy_data", _lines("legacy_data.ndjson"))
    assert out[0] == {"event_id": _id("legacy_data", "u1", "2024-01-01T12:00:00", "page_view", None, "/", None),
                      "event_name": "page_view", "event_time": "2024-01-01T12:00:00+00:00",
                      "user_id": "u1", "anonymous_id": "user:u1", "page": "/"}
    view = _id("legacy_data", "u1", "2024-01-01T12:01:00", "product_view", "prod_123", "/product/123", None)
    # two identical views in the same second are both kept, with distinct stable ids
    assert [out[1]["event_id"], out[2]["event_id"]] == [view, _id("legacy_data", "u1", "2024-01-01T12:01:00",
                                                                  "product_view", "prod_123", "/product/123", None, ordinal=1)]
    assert out[1]["event_name"] == "view_item" and out[1]["items"] == [{"item_id": "prod_123", "quantity": 1}]
    assert out[3]["event_name"] == "add_to_cart"
    assert out[4] == {"event_id": _id("legacy_data", "u1", "2024-01-01T12:00:00", "purchase", "prod_123", "/product/123", 99.99),
                      "event_name": "purchase", "event_time": "2024-01-01T12:00:00+00:00", "user_id": "u1",
                      "anonymous_id": "user:u1", "page": "/product/123",
                      "items": [{"item_id": "prod_123", "price": 99.99, "quantity": 1}], "value": 99.99}
    assert [(r.reason, r.detail) for r in out[5:]] == [
        ("unmappable_event", "legacy_data: event_type 'user_signup': a sign-up is not a shop event (customers come from the customer profiles)"),
        ("unmappable_event", "legacy_data: purchase without data.product_id"),
        ("unmappable_event", "legacy_data: event_type 'wishlist_add': not one of purchase, page_view, add_to_cart, product_view"),
    ]
    # re-importing the same export gives the same ids (cleaning then drops them as duplicate_event)
    assert convert("legacy_data", _lines("legacy_data.ndjson")) == out


def test_legacy_data_times_without_offset_are_in_the_sources_time_zone(tmp_path):
    (tmp_path / "sources.toml").write_text('[sources.nyc]\nformat = "legacy_data"\ntimezone = "America/New_York"\ncurrency = "USD"\n')
    sources = load_sources(tmp_path / "sources.toml")
    (purchase,) = convert("nyc", [_lines("legacy_data.ndjson")[4]], sources)
    assert purchase["event_time"] == "2024-01-01T12:00:00-05:00"  # New York in January: UTC-5
    assert purchase["currency"] == "USD"


def test_ga4_mapping():
    out = convert("ga4_bigquery", _lines("ga4_bigquery.ndjson"))
    assert out[0] == {
        "event_id": _id("ga4_bigquery", "1234.5678", 1704110400000000, "purchase", 1704110000, "T-1001",
                        ["SKU-1", "SKU-2"], "https://shop.example/checkout/done"),
        "event_name": "purchase", "event_time": "2024-01-01T12:00:00+00:00", "user_id": "u1",
        "anonymous_id": "1234.5678", "session_id": "1234.5678.1704110000",
        "page": "https://shop.example/checkout/done", "utm_source": "google", "utm_medium": "organic",
        "utm_campaign": "(organic)", "device": "mobile",  # "United Kingdom" is no ISO code: left out
        "items": [{"item_id": "SKU-1", "item_name": "Mug", "item_category": "Kitchen", "price": 19.99, "quantity": 2},
                  {"item_id": "SKU-2", "item_name": "Tea", "item_category": "Food", "price": 19.99, "quantity": 1}],
        "value": 59.97, "currency": "EUR", "transaction_id": "T-1001",
    }
    view = out[1]
    assert (view["event_name"], view["event_time"], view["referrer"], view["country"], view["device"]) == (
        "page_view", "2024-01-01T11:55:00+00:00", "https://www.google.com/", "GB", "desktop")
    assert "user_id" not in view and "items" not in view
    assert out[2] == Rejection("unmappable_event", "ga4_bigquery: event_name 'first_visit' has no ShopVerse event type")
    assert out[3] == Rejection("unmappable_event", "ga4_bigquery: missing required field(s) user_pseudo_id")
    assert out[4]["event_time"] == "yesterday"  # cleaning's bad_timestamp
    assert out[5] == Rejection("malformed_json", "ga4_bigquery: the line is not a JSON object")


def test_ga4_parquet_rows_map_like_their_ndjson(tmp_path):
    rows = [json.loads(line) for line in _lines("ga4_bigquery.ndjson")[:3]]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "events_20240101.parquet")
    records = pq.read_table(tmp_path / "events_20240101.parquet").to_pylist()
    assert convert("ga4_bigquery", records) == convert("ga4_bigquery", _lines("ga4_bigquery.ndjson")[:3])


def test_csv_clickstream_default_mapping():
    out = convert("csv_clickstream", _lines("clickstream.csv"))
    session = "72d76fde-8bb3-4e00-8c23-a032dfed738c"
    first = _id("csv_clickstream", "541312140", "2019-10-01 00:00:00 UTC", "view", "44600062", session)
    item = {"item_id": "44600062", "item_category": "electronics.smartphone", "price": "35.79"}
    assert out[0] == {"event_id": first, "event_name": "view_item", "event_time": "2019-10-01T00:00:00+00:00",
                      "user_id": "541312140", "anonymous_id": "541312140", "session_id": session, "items": [item]}
    assert out[1]["event_id"] == _id("csv_clickstream", "541312140", "2019-10-01 00:00:00 UTC", "view", "44600062",
                                     session, ordinal=1)
    assert [e["event_name"] for e in out[:5]] == ["view_item", "view_item", "add_to_cart", "remove_from_cart", "purchase"]
    assert out[4]["value"] == "33.20" and out[4]["items"][0]["price"] == "33.20"
    assert out[5] == Rejection("unmappable_event",
                               "csv_clickstream (csv_clickstream): event type 'wishlist' is not in the source's event_types map")
    assert out[6] == Rejection("unmappable_event",
                               "csv_clickstream (csv_clickstream): missing required column value(s) user_id")
    assert out[7]["event_time"] == "Oct 1 2019"
    assert len(out) == 8  # the header is no record


def test_csv_clickstream_declared_source_mapping():
    sources = load_sources(FIXTURES / "sources.toml")
    lines = ["Zeit,Aktion,Artikel,Preis,Kunde,Sitzung,Kategorie",
             "01.07.2024 10:30,gekauft,A-7,12.50,k9,s1,Garten",
             "01.07.2024 10:31,retour,A-7,12.50,k9,s1,Garten"]
    out = convert("berlin_shop", lines, sources)
    assert out[0] == {"event_id": _id("berlin_shop", "k9", "01.07.2024 10:30", "gekauft", "A-7", "s1"),
                      "event_name": "purchase", "event_time": "2024-07-01T10:30:00+02:00",  # Berlin summer time
                      "user_id": "k9", "anonymous_id": "k9", "session_id": "s1",
                      "items": [{"item_id": "A-7", "item_category": "Garten", "price": "12.50"}],
                      "value": "12.50", "currency": "EUR"}
    assert out[1] == Rejection("unmappable_event",
                               "csv_clickstream (berlin_shop): event type 'retour' is not in the source's event_types map")


def test_unknown_source_and_bad_declarations_are_named(tmp_path):
    with pytest.raises(UnknownSource, match="'mixpanel' is neither an import format"):
        convert("mixpanel", ["{}"])
    (tmp_path / "sources.toml").write_text('[sources.x]\nformat = "csv_clickstream"\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(ValueError, match="source 'x' has timezone 'Mars/Olympus'"):
        load_sources(tmp_path / "sources.toml")
    (tmp_path / "sources.toml").write_text('[sources.y]\nformat = "snowplow"\n')
    with pytest.raises(ValueError, match="source 'y' has format 'snowplow'"):
        load_sources(tmp_path / "sources.toml")
    assert load_sources(tmp_path / "absent.toml") == {}


def test_sniffing_a_files_first_line():
    assert sniff_format(_lines("ga4_bigquery.ndjson")[0]) == "ga4_bigquery"
    assert sniff_format(_lines("legacy_actions.ndjson")[0]) == "legacy_actions"
    assert sniff_format(_lines("legacy_data.ndjson")[0]) == "legacy_data"
    ours = '{"event_id":"e1","event_name":"page_view","event_time":"2024-01-01T00:00:00Z","anonymous_id":"d"}'
    assert sniff_format(ours) is None and sniff_format("not json") is None


def test_import_files_are_listed_by_source_and_unknown_sources_are_named(tmp_path):
    from datetime import date

    from shopverse_platform.lib.ingestion.adapters.landing_files import import_files

    imports = tmp_path / "imports"
    for source, name in [("ga4_bigquery", "events_20240101.ndjson"), ("mixpanel", "export.json"),
                         ("berlin_shop", "notes.txt"), ("legacy_data", ".DS_Store")]:
        (imports / source / "2024-01-01").mkdir(parents=True, exist_ok=True)
        (imports / source / "2024-01-01" / name).write_text("{}\n")
    (imports / "ga4_bigquery" / "2024-01-02").mkdir()
    (imports / "ga4_bigquery" / "2024-01-02" / "later.ndjson").write_text("{}\n")
    listed = import_files(imports, date(2024, 1, 1), date(2024, 1, 2), load_sources(FIXTURES / "sources.toml"))
    assert [(Path(f.path).name, f.source, f.rejected_detail) for f in listed] == [
        ("notes.txt", "berlin_shop", "notes.txt: not an import file (.ndjson, .jsonl, .json, .csv, .parquet; text ones optionally .gz)"),
        ("events_20240101.ndjson", "ga4_bigquery", None),
        ("export.json", "mixpanel", "export.json: import folder 'mixpanel' is neither an import format "
                                    "(ga4_bigquery, legacy_actions, legacy_data, csv_clickstream) nor a source declared in landing/sources.toml"),
    ]
    assert all(f.partition_date == date(2024, 1, 1) for f in listed)


def test_import_records_count_what_convert_maps(tmp_path):
    from shopverse_platform.lib.ingestion.adapters.landing_files import import_records, source_line

    ndjson = tmp_path / "a.ndjson"
    ndjson.write_text("\n".join(_lines("legacy_data.ndjson")[:2]) + "\n\n" + _lines("legacy_data.ndjson")[5] + "\r\n")
    records, numbers = import_records(str(ndjson))
    assert numbers == [1, 2, 4] and len(convert("legacy_data", records)) == 3
    csv_file = tmp_path / "c.csv"
    lines = _lines("clickstream.csv")
    csv_file.write_text("\n".join(lines[:3] + [""] + lines[3:5]) + "\n")
    records, numbers = import_records(str(csv_file))
    assert numbers == [2, 3, 5, 6] and len(convert("csv_clickstream", records)) == 4
    rows = [json.loads(line) for line in _lines("ga4_bigquery.ndjson")[:2]]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "g.parquet")
    records, numbers = import_records(str(tmp_path / "g.parquet"))
    assert numbers == [1, 2] and [e["event_name"] for e in convert("ga4_bigquery", records)] == ["purchase", "page_view"]
    assert json.loads(source_line(records[1]))["event_name"] == "page_view"
    assert source_line(lines[1]) == lines[1]


def test_the_unmappable_reason_is_a_quarantine_reason_of_cleaning():
    from shopverse_platform.lib.cleaning.event_schema import QUARANTINE_REASONS
    from shopverse_platform.lib.ingestion.adapters.common import MALFORMED_JSON, UNMAPPABLE_EVENT

    assert {UNMAPPABLE_EVENT, MALFORMED_JSON} <= set(QUARANTINE_REASONS)
