"""Input-quality gates: rejected shares, per-reason thresholds, volume against the weekday median,
the blocking check, and the report's data-quality line. Expectations are worked out by hand from
the counts each test writes."""

from __future__ import annotations

import json
from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest

from shopverse_platform.defs.checks import failed_check_findings
from shopverse_platform.defs.cleaning.assets import clean_events, sessions
from shopverse_platform.defs.ingestion.assets import raw_events
from shopverse_platform.lib.automation import alerts
from shopverse_platform.lib.cleaning import events as event_cleaning
from shopverse_platform.lib.cleaning.input_quality import QualityGates, gate_outcome, write_input_quality
from shopverse_platform.lib.reports import data as report_data
from shopverse_platform.lib.reports import render
from shopverse_platform.lib.warehouse.sql import load_sql
from shopverse_platform_tests.conftest import materialize_range

MONDAY = date(2024, 4, 1)


def _warehouse(history: dict[date, int], days: dict[date, tuple[int, dict[str, int], int]]) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse: ``history`` days hold that many raw lines, all clean; ``days`` hold
    (clean lines, {reason: rejected lines}, duplicates), raw = their sum (the reconciliation)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE raw_events (partition_date DATE, source_file VARCHAR, line_count BIGINT)")
    con.execute("CREATE TABLE clean_events (partition_date DATE, event_id VARCHAR)")
    con.execute(load_sql(event_cleaning.__file__, "quarantine_ddl"))
    for day, lines in history.items():
        con.execute("INSERT INTO raw_events VALUES (?, 'f', ?)", [day, lines])
        con.execute("INSERT INTO clean_events SELECT ?, 'e' || i FROM range(?) t(i)", [day, lines])
    for day, (clean, rejected, duplicates) in days.items():
        con.execute("INSERT INTO raw_events VALUES (?, 'f', ?)", [day, clean + sum(rejected.values()) + duplicates])
        con.execute("INSERT INTO clean_events SELECT ?, 'e' || i FROM range(?) t(i)", [day, clean])
        for reason, count in {**rejected, "duplicate_event": duplicates}.items():
            con.execute("INSERT INTO quarantine (source, partition_date, reason_code) "
                        "SELECT 'events', ?, ? FROM range(?)", [day, reason, count])
    return con


def _four_weeks_of(lines: int, before: date) -> dict[date, int]:
    return {before - timedelta(days=n): lines for n in range(1, 29)}


def _judge(con, day: date, gates: QualityGates = QualityGates()) -> dict:
    (row,) = write_input_quality(con, "events", day, day + timedelta(days=1), gates)
    return row


def test_a_day_with_some_rejected_lines_warns_with_the_figures():
    con = _warehouse(_four_weeks_of(1000, MONDAY), {MONDAY: (850, {"bad_timestamp": 140, "malformed_json": 10}, 5)})
    row = _judge(con, MONDAY)
    # received 850 + 150 + 5 = 1005; rejected 150 (duplicates are not rejections)
    assert (row["lines_received"], row["lines_accepted"], row["lines_rejected"], row["duplicates"]) == (1005, 850, 150, 5)
    assert row["rejected_share"] == pytest.approx(150 / 1005)
    assert row["rejected_by_reason"] == {"bad_timestamp": 140, "malformed_json": 10}
    assert (row["worst_reason"], row["worst_reason_share"]) == ("bad_timestamp", pytest.approx(140 / 1005))
    assert (row["expected_lines"], row["volume_ratio"]) == (1000, pytest.approx(1.005))
    assert row["status"] == "warn"  # 14.9 % is over 1 % and under 20 %
    assert row["findings"][0] == ("14.9% of 1,005 events lines rejected (threshold: warn above 1.0%, fail above 20.0%); "
                                  "most: bad_timestamp (140)")


def test_a_feed_that_is_all_rejected_fails_and_says_what_to_look_at():
    con = _warehouse(_four_weeks_of(1000, MONDAY), {MONDAY: (0, {"schema_violation": 1000}, 0)})
    row = _judge(con, MONDAY)
    assert (row["status"], row["rejected_share"], row["lines_accepted"]) == ("fail", 1.0, 0)
    status, metadata = gate_outcome([row])
    assert status == "fail" and metadata["days_failed"] == [str(MONDAY)]
    assert "100.0% of 1,000 events lines rejected" in metadata["findings"][0]
    assert "quarantine" in metadata["what_to_look_at"]


def test_what_to_look_at_names_the_day_with_rejected_lines_not_a_volume_warning():
    tuesday = MONDAY + timedelta(days=1)
    history = {MONDAY - timedelta(days=7 * w): 1000 for w in range(1, 5)}
    # Monday: a volume drop, nothing rejected; Tuesday: 5 % rejected (no history: volume not judged)
    con = _warehouse(history, {MONDAY: (200, {}, 4), tuesday: (950, {"bad_timestamp": 50}, 0)})
    rows = write_input_quality(con, "events", MONDAY, tuesday + timedelta(days=1), QualityGates())
    assert [r["status"] for r in rows] == ["warn", "warn"]
    status, metadata = gate_outcome(rows)
    assert status == "warn" and f"DATE '{tuesday}'" in metadata["what_to_look_at"]
    assert "reason_code <> 'duplicate_event'" in metadata["what_to_look_at"]  # not Monday's 4 duplicates
    status, metadata = gate_outcome(rows[:1])  # the volume warning alone: look at the counts
    assert "FROM input_quality" in metadata["what_to_look_at"] and "volume" in metadata["what_to_look_at"]


def test_a_clean_day_at_the_usual_volume_passes():
    con = _warehouse(_four_weeks_of(1000, MONDAY), {MONDAY: (1100, {}, 3)})
    row = _judge(con, MONDAY)
    assert (row["status"], row["lines_rejected"], row["rejected_share"], row["findings"]) == ("ok", 0, 0.0, [])
    assert gate_outcome([row])[0] == "ok"


def test_a_few_bad_lines_on_a_tiny_day_warn_rather_than_fail():
    con = _warehouse({}, {MONDAY: (2, {"malformed_json": 3}, 0)})
    row = _judge(con, MONDAY)
    assert row["rejected_share"] == pytest.approx(0.6)
    assert row["status"] == "warn"  # 60 % but only 3 lines: under the 10 a failure needs
    assert row["expected_lines"] is None  # no history: volume not judged


def test_volume_is_judged_against_the_same_weekday():
    # Mondays usually 1000 lines, Saturdays (closed) 0: a Monday of 200 is a drop, a Saturday of 0 is not
    history = {MONDAY - timedelta(days=7 * w): 1000 for w in range(1, 5)}
    saturday = MONDAY + timedelta(days=5)
    con = _warehouse(history, {MONDAY: (200, {}, 0)})
    row = _judge(con, MONDAY)
    assert (row["expected_lines"], row["volume_ratio"], row["status"]) == (1000, 0.2, "warn")
    assert row["findings"] == ["200 events lines received against 1,000 expected (median of the same weekday over the "
                               "previous 4 weeks): 0.20× the usual: a drop"]
    rows = write_input_quality(con, "events", MONDAY, saturday + timedelta(days=1), QualityGates())
    by_day = {r["partition_date"]: r for r in rows}
    # Tuesday to Saturday have no history of their own weekday at all
    assert all(by_day[MONDAY + timedelta(days=n)]["status"] == "ok" for n in range(1, 6))
    # a Monday with nothing at all is a stopped feed
    next_monday = MONDAY + timedelta(days=7)
    (empty,) = write_input_quality(con, "events", next_monday, next_monday + timedelta(days=1), QualityGates())
    # the median of 200, 1000, 1000, 1000 is 1000
    assert (empty["lines_received"], empty["expected_lines"], empty["status"]) == (0, 1000, "warn")
    assert empty["findings"][0].endswith("nothing arrived")


def test_a_reason_can_have_its_own_thresholds(monkeypatch):
    con = _warehouse(_four_weeks_of(1000, MONDAY), {MONDAY: (850, {"bad_timestamp": 140, "malformed_json": 10}, 5)})
    monkeypatch.setenv("SHOPVERSE_QUALITY_REASON_SHARES", "bad_timestamp=0.05/0.10")
    row = _judge(con, MONDAY, QualityGates.from_environment())
    assert row["status"] == "fail"  # bad_timestamp 13.9 % > its own 10 %
    assert "bad_timestamp 13.9% (warn above 5.0%, fail above 10.0%)" in row["findings"][1]


def test_a_rerun_replaces_the_days_rows():
    con = _warehouse(_four_weeks_of(1000, MONDAY), {MONDAY: (1000, {}, 0)})
    _judge(con, MONDAY)
    _judge(con, MONDAY)
    assert con.execute("SELECT count(*) FROM input_quality WHERE partition_date = ?", [MONDAY]).fetchone()[0] == 1


@pytest.mark.parametrize(("name", "value", "message"), [
    ("SHOPVERSE_QUALITY_FAIL_SHARE", "20", "SHOPVERSE_QUALITY_FAIL_SHARE must be a share between 0 and 1"),
    ("SHOPVERSE_QUALITY_WARN_SHARE", "0.5", "must not exceed the failure share"),
    ("SHOPVERSE_QUALITY_REASON_SHARES", "bad_timestamp:0.1", "takes reason=warn/fail pairs"),
    ("SHOPVERSE_QUALITY_VOLUME_FACTOR", "three", "SHOPVERSE_QUALITY_VOLUME_FACTOR must be a number"),
])
def test_a_mistyped_threshold_is_an_error_naming_the_variable(name, value, message):
    with pytest.raises(ValueError, match=message):
        QualityGates.from_environment({name: value})


def test_a_rejected_feed_blocks_the_tables_downstream_and_the_report_says_so(landing_dir, resources, warehouse):
    """End to end: a day whose landing file is 40 valid events and 60 lines of another tool's
    format. clean_events is written (its rows are real), the gate fails with ERROR, and `sessions`
    downstream is not built; the day's report opens with the data-quality line."""
    day = landing_dir / "events" / "2024-03-05"
    day.mkdir(parents=True)
    good = [json.dumps({"event_id": f"e{i}", "event_name": "page_view", "event_time": "2024-03-05T10:00:00Z",
                        "anonymous_id": f"a{i % 7}"}) for i in range(40)]
    foreign = [json.dumps({"event_type": "pageview", "ts": 1709632800}) for _ in range(60)]
    (day / "batch.ndjson").write_text("\n".join(good + foreign) + "\n")
    result = materialize_range([raw_events, clean_events, sessions], resources, "2024-03-05", "2024-03-06",
                               raise_on_error=False)
    assert not result.success
    gate = next(e for e in result.get_asset_check_evaluations() if e.check_name == "clean_events_input_quality")
    assert (gate.passed, gate.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert gate.metadata["status"].value == "fail"
    # the failure in words, where the run's error and the alert show it (Dagster's error names the
    # check only: "1 blocking asset check failed with ERROR severity: clean_events: ...")
    finding = ("2024-03-05: 60.0% of 100 events lines rejected (threshold: warn above 1.0%, fail above 20.0%); "
               "most: schema_violation (60)")
    assert gate.description.startswith(finding)
    assert failed_check_findings(result.get_asset_check_evaluations()) == [f"clean_events_input_quality: {gate.description}"]
    alert = alerts.run_failure_alert(result.dagster_run, result.get_step_failure_events(), None, "http://ui",
                                     failed_check_findings(result.get_asset_check_evaluations()))
    assert alert.error.startswith(f"clean_events_input_quality: {finding}")
    assert "blocking asset check failed" in alert.error  # Dagster's own error follows
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()
                    for m in [m.event_specific_data.materialization]}
    assert materialized == {"raw_events", "clean_events"}  # sessions blocked
    with warehouse.connect() as con:
        received, accepted, rejected, reasons, status = con.execute(
            "SELECT lines_received, lines_accepted, lines_rejected, rejected_by_reason, status FROM input_quality "
            "WHERE source = 'events' AND partition_date = DATE '2024-03-05'").fetchone()
        report = render.build(report_data.load(con, report_data.Period.day(date(2024, 3, 5))))
    assert (received, accepted, rejected, status) == (100, 40, 60, "fail")
    assert sum(reasons.values()) == 60
    markdown = render.to_markdown(report)
    quality_line = markdown.splitlines()[2]
    assert quality_line.startswith("> **Data quality FAILED — events: 100 lines received, 40 accepted, 60 rejected (")
    assert "60.0% of 100 events lines rejected" in quality_line
    assert 'class="quality"' in render.to_html(report)


def test_the_quality_line_reads_a_period_where_one_source_rejected_nothing():
    """The UCI year's weekly report failed with "'NAType' object is not iterable": the events source
    had input_quality rows with nothing rejected (no reasons at all) beside the orders' warning."""
    con = duckdb.connect()
    con.execute(load_sql(event_cleaning.__file__, "input_quality_ddl"))
    con.execute("""INSERT INTO input_quality VALUES
        (DATE '2024-04-01', 'events', 0, 0, 0, 0, NULL, MAP {}, NULL, NULL, NULL, NULL, 'ok', []),
        (DATE '2024-04-01', 'orders', 0, 0, 0, 0, NULL, MAP {}, NULL, NULL, 1000, 0, 'warn',
         ['0 orders lines received against 1,000 expected (median of the same weekday over the previous 4 weeks): nothing arrived'])""")
    data = report_data.load(con, report_data.Period.week(MONDAY))
    text = render.build(data).insights[0].text
    assert text == ("Data quality warning — events: 0 lines received, 0 accepted, 0 rejected, 0 duplicates; orders: 0 lines "
                    "received, 0 accepted, 0 rejected, 0 duplicates. 0 orders lines received against 1,000 expected (median "
                    "of the same weekday over the previous 4 weeks): nothing arrived.")
