"""Adapted events through the real pipeline (raw_events -> clean_events on a temp warehouse): the
events the adapters make pass or fail the one set of cleaning rules, and a re-import of the same
export deduplicates. (Reading landing/imports/ directly is not wired yet: the mapped events are
delivered as an events/ batch here.)"""

from __future__ import annotations

import json
from pathlib import Path

from shopverse_platform.lib.ingestion.adapters import Rejection, convert
from shopverse_platform_tests.cleaning.test_value_domains import run

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
DAY = "2024-01-01"


def _mapped(fmt: str) -> list[dict]:
    return [e for e in convert(fmt, (FIXTURES / f"{fmt}.ndjson").read_text().splitlines()) if not isinstance(e, Rejection)]


def _deliver(landing: Path, name: str, events: list[dict]) -> None:
    folder = landing / "events" / DAY
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(e) + "\n" for e in events))


def test_adapted_events_are_cleaned_by_the_normal_rules_and_a_reimport_deduplicates(landing_dir, resources, query):
    mapped = {fmt: _mapped(fmt) for fmt in ("ga4_bigquery", "legacy_actions", "legacy_data")}
    for fmt, events in mapped.items():
        _deliver(landing_dir, f"{fmt}.ndjson", events)
    run(resources, DAY, DAY)
    clean = {(f, n): (e, name) for f, n, e, name in query(
        "SELECT source_file, line_number, event_id, event_name FROM clean_events WHERE partition_date = ?", [DAY])}
    # ga4: purchase and page_view clean, the "yesterday" view is bad_timestamp; legacy_actions: three
    # clean, the unparseable time bad_timestamp; legacy_data: all five mapped events clean
    assert sorted((Path(f).name, n, name) for (f, n), (_, name) in clean.items()) == [
        ("ga4_bigquery.ndjson", 1, "purchase"), ("ga4_bigquery.ndjson", 2, "page_view"),
        ("legacy_actions.ndjson", 1, "add_to_cart"), ("legacy_actions.ndjson", 2, "remove_from_cart"),
        ("legacy_actions.ndjson", 3, "purchase"),
        ("legacy_data.ndjson", 1, "page_view"), ("legacy_data.ndjson", 2, "view_item"),
        ("legacy_data.ndjson", 3, "view_item"), ("legacy_data.ndjson", 4, "add_to_cart"),
        ("legacy_data.ndjson", 5, "purchase"),
    ]
    assert sorted((Path(f).name, n, r) for f, n, r in query(
        "SELECT source_file, line_number, reason_code FROM quarantine WHERE source = 'events'")) == [
        ("ga4_bigquery.ndjson", 3, "bad_timestamp"), ("legacy_actions.ndjson", 4, "bad_timestamp")]
    # the GA4 purchase keeps its items, value and currency
    assert query("SELECT value, currency, transaction_id, len(items) FROM clean_events WHERE event_name = 'purchase' "
                 "AND source_file LIKE '%ga4%'") == [(59.97, "EUR", "T-1001", 2)]
    # a re-import of the same exports: the same derived ids, all duplicates, nothing new is clean
    for fmt in mapped:
        _deliver(landing_dir, f"{fmt}-again.ndjson", _mapped(fmt))
    run(resources, DAY, DAY)
    assert query("SELECT count(*), count(DISTINCT event_id) FROM clean_events") == [(10, 10)]
    assert query("SELECT count(*) FROM quarantine WHERE reason_code = 'duplicate_event'") == [(10,)]
