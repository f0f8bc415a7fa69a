"""Other tools' exports dropped into the landing zone (``imports/<source>/YYYY-MM-DD/``) through the
real pipeline (raw_events -> clean_events on a temp warehouse): each record becomes one line of the
raw count and ends clean, quarantined with a reason (the adapter's ``unmappable_event`` with the
record as the other tool sent it, or a cleaning rule) or a duplicate; a re-import deduplicates; a
folder that names no format is a visible record, not silence; the landing sensor sees imports."""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path

import pytest

from shopverse_platform.lib.automation import landing_scan
from shopverse_platform_tests.cleaning.test_value_domains import run

# the fixtures hold a rejected record of every kind: most of a day is rejected, which the input-quality
# gate would (rightly) fail; these tests are about where each record lands
pytestmark = pytest.mark.usefixtures("hostile_feed")

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
DAY = "2024-01-01"
CSV_DAY = "2019-10-01"


def _drop(landing: Path, source: str, day: str, fixture: str, name: str | None = None) -> Path:
    folder = landing / "imports" / source / day
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(FIXTURES / fixture, folder / (name or fixture)))


def _outcomes(query, day: str) -> list[tuple]:
    """(file, line, outcome) of every record of the day: 'clean' or the quarantine reason."""
    clean = query("SELECT source_file, line_number, 'clean' FROM clean_events WHERE partition_date = ?", [day])
    held = query("SELECT source_file, line_number, reason_code FROM quarantine WHERE source = 'events' "
                 "AND partition_date = ?", [day])
    return sorted((Path(f).name, n, outcome) for f, n, outcome in clean + held)


def _line(fixture: str, number: int) -> str:
    return (FIXTURES / fixture).read_text().splitlines()[number - 1]


def test_imports_land_through_their_adapter_and_the_cleaning_rules(landing_dir, resources, query):
    for fmt in ("ga4_bigquery", "legacy_actions", "legacy_data"):
        _drop(landing_dir, fmt, DAY, f"{fmt}.ndjson")
    run(resources, DAY, DAY)  # the reconciliation and uniqueness checks pass (asserted in run)

    # expected by reading the fixtures (see test_adapters.py for the field mappings)
    assert _outcomes(query, DAY) == sorted([
        # GA4: a purchase and a page view; first_visit has no event of ours; no user_pseudo_id;
        # "yesterday" is no time; the last line is not JSON
        ("ga4_bigquery.ndjson", 1, "clean"), ("ga4_bigquery.ndjson", 2, "clean"),
        ("ga4_bigquery.ndjson", 3, "unmappable_event"), ("ga4_bigquery.ndjson", 4, "unmappable_event"),
        ("ga4_bigquery.ndjson", 5, "bad_timestamp"), ("ga4_bigquery.ndjson", 6, "malformed_json"),
        # shape (a): add, remove, purchase; abandon is derived by the platform; no customer_id; a bad time
        ("legacy_actions.ndjson", 1, "clean"), ("legacy_actions.ndjson", 2, "clean"),
        ("legacy_actions.ndjson", 3, "clean"), ("legacy_actions.ndjson", 4, "unmappable_event"),
        ("legacy_actions.ndjson", 5, "unmappable_event"), ("legacy_actions.ndjson", 6, "bad_timestamp"),
        # shape (b): five events (two identical views both kept); a sign-up, a purchase naming no
        # product or amount, an unknown type
        *[("legacy_data.ndjson", n, "clean") for n in range(1, 6)],
        ("legacy_data.ndjson", 6, "unmappable_event"), ("legacy_data.ndjson", 7, "unmappable_event"),
        ("legacy_data.ndjson", 8, "unmappable_event"),
    ])
    # the raw layer counts records, and says which source each file came from
    assert sorted(query("SELECT layout, line_count FROM raw_events")) == [
        ("import:ga4_bigquery", 6), ("import:legacy_actions", 6), ("import:legacy_data", 8)]
    # a record no event maps is kept as the other tool sent it, with the adapter's reason
    abandon = query("SELECT raw_line, reason_detail FROM quarantine WHERE source_file LIKE '%legacy_actions%' "
                    "AND line_number = 4")
    assert abandon == [(_line("legacy_actions.ndjson", 4),
                        "legacy_actions: action 'abandon': cart abandonment is derived by the platform, not imported")]
    # and so is a mapped record cleaning rejects (not our JSON of it)
    assert query("SELECT raw_line FROM quarantine WHERE source_file LIKE '%ga4%' AND line_number = 5") == [
        (_line("ga4_bigquery.ndjson", 5),)]
    # the GA4 purchase keeps its items, value, currency and transaction
    assert query("SELECT value, currency, transaction_id, len(items) FROM clean_events WHERE event_name = 'purchase' "
                 "AND source_file LIKE '%ga4%'") == [(59.97, "EUR", "T-1001", 2)]

    # the same exports delivered again: the same derived ids, every clean record a duplicate
    for fmt in ("ga4_bigquery", "legacy_actions", "legacy_data"):
        _drop(landing_dir, fmt, DAY, f"{fmt}.ndjson", f"{fmt}-again.ndjson")
    run(resources, DAY, DAY)
    assert query("SELECT count(*), count(DISTINCT event_id) FROM clean_events") == [(10, 10)]
    assert query("SELECT count(*) FROM quarantine WHERE reason_code = 'duplicate_event'") == [(10,)]


def test_a_csv_clickstream_and_an_unknown_source_folder(landing_dir, resources, query):
    _drop(landing_dir, "csv_clickstream", CSV_DAY, "clickstream.csv")
    unknown = _drop(landing_dir, "shopify_events", CSV_DAY, "legacy_data.ndjson")
    run(resources, CSV_DAY, CSV_DAY)
    outcomes = _outcomes(query, CSV_DAY)
    # data rows are lines 2..9 (the header is no record); the same view twice in one second is kept twice
    assert outcomes == sorted([
        ("clickstream.csv", 2, "clean"), ("clickstream.csv", 3, "clean"), ("clickstream.csv", 4, "clean"),
        ("clickstream.csv", 5, "clean"), ("clickstream.csv", 6, "clean"),
        ("clickstream.csv", 7, "unmappable_event"),  # "wishlist" is no type of the mapping
        ("clickstream.csv", 8, "unmappable_event"),  # no user_id: the mapping needs the visitor
        ("clickstream.csv", 9, "bad_timestamp"),  # "Oct 1 2019"
        ("legacy_data.ndjson", None, "not_an_event_file"),  # one record for the file of the unknown folder
    ])
    assert query("SELECT raw_line FROM quarantine WHERE line_number = 9") == [(_line("clickstream.csv", 9),)]
    detail = query("SELECT reason_detail FROM quarantine WHERE reason_code = 'not_an_event_file'")[0][0]
    assert "'shopify_events' is neither an import format" in detail and unknown.name in detail
    assert query("SELECT sum(line_count) FROM raw_events WHERE layout = 'import:csv_clickstream'") == [(8,)]


def test_the_landing_sensor_sees_an_import(landing_dir):
    before = landing_scan.scan(landing_dir, None, time.time() + 60, 10)
    _drop(landing_dir, "legacy_data", DAY, "legacy_data.ndjson")
    after = landing_scan.scan(landing_dir, None, time.time() + 60, 10)
    assert not before.days and set(after.days) == {date(2024, 1, 1)}
    assert after.days[date(2024, 1, 1)].count == 1


def test_an_export_dropped_into_events_is_loud_and_says_where_it_belongs(landing_dir, resources, query, monkeypatch):
    """A GA4 export delivered as if it were our events: every line is quarantined (our rules), the
    input-quality gate flags the day (a warning at six lines: a failure needs a minimum of rejected
    lines) and says which file is which tool's export and the imports folder it belongs in."""
    from shopverse_platform_tests.conftest import materialize_range
    from shopverse_platform_tests.cleaning.test_value_domains import EVENT_ASSETS

    monkeypatch.delenv("SHOPVERSE_QUALITY_FAIL_SHARE")  # the real gate, not the lifted one of this module
    folder = landing_dir / "events" / DAY
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "ga4_bigquery.ndjson", folder / "export.ndjson")
    result = materialize_range(EVENT_ASSETS, resources, DAY, DAY)
    (gate,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "clean_events_input_quality"]
    assert not gate.passed and gate.metadata["status"].value == "warn"
    (hint,) = gate.metadata["another_tools_export"].value
    assert hint.startswith(str(folder / "export.ndjson")) and f"imports/ga4_bigquery/{DAY}/" in hint
    assert query("SELECT reason_code, count(*) FROM quarantine GROUP BY 1 ORDER BY 1") == [
        ("malformed_json", 1), ("schema_violation", 5)]
    # and the day's report says it: the hint is the day's first input-quality finding, which the
    # report's data-quality line shows (a rerun of the day does not repeat it)
    assert materialize_range(EVENT_ASSETS, resources, DAY, DAY).get_asset_check_evaluations()
    (findings,) = query("SELECT findings FROM input_quality WHERE source = 'events' AND partition_date = ?", [DAY])[0]
    assert findings[0] == hint and findings.count(hint) == 1
    from shopverse_platform.lib.reports import data as report_data
    from shopverse_platform.lib.reports.insights import data_quality

    with resources["warehouse"].connect(read_only=True) as con:
        day = date.fromisoformat(DAY)
        quality = report_data.load(con, report_data.Period.day(day)).quality
    assert hint in data_quality(quality).text


def test_a_csv_with_a_blank_line_keeps_each_rejected_row_as_sent(landing_dir, resources, query):
    lines = (FIXTURES / "clickstream.csv").read_text().splitlines()
    folder = landing_dir / "imports" / "csv_clickstream" / CSV_DAY
    folder.mkdir(parents=True)
    (folder / "gappy.csv").write_text("\n".join(lines[:4] + [""] + lines[4:]) + "\n")  # a blank line 5
    run(resources, CSV_DAY, CSV_DAY)
    # the rows after the blank line keep their own line numbers and text
    assert query("SELECT line_number, raw_line FROM quarantine WHERE reason_code = 'bad_timestamp'") == [(10, lines[8])]
    assert query("SELECT sum(line_count) FROM raw_events") == [(8,)]
