"""Faults in the order exports: every line is clean, quarantined with a reason, or a counted
duplicate; a bad file is one quarantine record naming it and the exports beside it still load.

Each test failed on the code before the fix (the failure is named in its docstring); the expected
counts are worked out by hand from the lines written here.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from shopverse_platform.defs.cleaning.assets import clean_order_lines
from shopverse_platform.defs.ingestion.assets import raw_orders
from shopverse_platform.defs.resources import LandingZone
from shopverse_platform.lib.cleaning.event_schema import ORDER_QUARANTINE_REASONS
from shopverse_platform_tests.conftest import RANGE_END, RANGE_START, materialize_range

HEADER = '"InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice","CustomerID","Country"\n'
ASSETS = [raw_orders, clean_order_lines]


def line(invoice: str, stock: str, quantity: str, when: str, price: str, description: str = "ITEM",
         customer: str = "17850") -> str:
    return f'"{invoice}","{stock}","{description}","{quantity}","{when}","{price}","{customer}","United Kingdom"\n'


def modified_on(path: Path, day: str) -> None:
    """Set the file's modification time to noon UTC of ``day`` (the partition of its undated lines)."""
    moment = datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=timezone.utc).timestamp()
    os.utime(path, (moment, moment))


def name(path: str | None) -> str | None:
    return None if path is None else path.rsplit("/", 1)[-1]


def outcome(query) -> tuple[list, list]:
    """raw_orders and the order quarantine, by file name and line, for comparing reruns."""
    raw = query("SELECT partition_date, source_file, line_number, invoice_no, read_error, raw_text FROM raw_orders ORDER BY ALL")
    quarantined = query("SELECT partition_date, source_file, line_number, reason_code, reason_detail, raw_line "
                        "FROM quarantine WHERE source = 'orders' ORDER BY ALL")
    return raw, quarantined


def reconciled(result) -> list:
    return [(c.check_name, c.passed, c.metadata["raw"].value, c.metadata["unaccounted"].value)
            for c in result.get_asset_check_evaluations() if c.check_name.endswith("_reconciles_with_raw")]


def unreadable_gate_failed(result, files: int) -> bool:
    """True when the run's only failure is clean_order_lines' blocking input-quality gate, failed
    by ``files`` exports that could not be read at all."""
    gate = next(c for c in result.get_asset_check_evaluations() if c.check_name == "clean_order_lines_input_quality")
    failures = [e.event_specific_data.error.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return (not gate.passed and failures and all("blocking asset check failed" in f for f in failures)
            and any(f"{files} orders file(s) could not be read at all (unreadable_export)" in finding
                    for finding in gate.metadata["findings"].value))


def test_new_reasons_are_listed_after_the_old_ones():
    assert list(ORDER_QUARANTINE_REASONS)[:3] == ["schema_violation", "invalid_price", "duplicate_line"]
    assert {"bad_invoice_date", "quantity_out_of_domain", "price_out_of_domain", "malformed_line",
            "unreadable_export"} <= set(ORDER_QUARANTINE_REASONS)


def test_undated_lines_land_in_a_partition_and_are_quarantined(landing_dir, resources, query):
    """Before: a line with an unparseable InvoiceDate took its file's first invoice day, but an
    export where no line parses had none: its line reached neither raw_orders nor the quarantine,
    and the run was green (3 raw rows here instead of 4). The dated file's bad line was a
    schema_violation without its text."""
    orders = landing_dir / "orders"
    orders.mkdir()
    (orders / "a.csv").write_text(HEADER + line("1", "A", "1", "2010-12-01 09:00:00", "1.5")
                                  + line("2", "B", "2", "2010-12-02 10:00:00", "2.5")
                                  + line("3", "C", "3", "31/12/2010 25:00", "3.5"))
    (orders / "b.csv").write_text(HEADER + line("4", "D", "4", "not a date", "4.5"))
    modified_on(orders / "b.csv", "2010-12-03")  # no invoice day in b.csv: its modification day

    # Day by day, as the daily schedule runs: each line is in exactly one day's partition.
    for day in ("2010-12-01", "2010-12-02", "2010-12-03"):
        result = materialize_range(ASSETS, resources, day, day)
        assert result.success
        # (the input-quality gate warns: a third of these hand-written lines are bad on purpose)
        assert [c.passed for c in result.get_asset_check_evaluations() if not c.check_name.endswith("_input_quality")] == [True]
    assert query("SELECT partition_date, source_file, line_number, invoice_no FROM raw_orders ORDER BY 1, 3, 2") == [
        (date(2010, 12, 1), str(orders / "a.csv"), 2, "1"),
        (date(2010, 12, 1), str(orders / "a.csv"), 4, "3"),  # undated: a.csv's first invoice day
        (date(2010, 12, 2), str(orders / "a.csv"), 3, "2"),
        (date(2010, 12, 3), str(orders / "b.csv"), 2, "4"),  # undated file: its modification day
    ]
    assert query("SELECT invoice_no FROM clean_order_lines ORDER BY 1") == [("1",), ("2",)]
    assert [(r[0], name(r[1]), *r[2:]) for r in query(
        "SELECT partition_date, source_file, line_number, reason_code, reason_detail FROM quarantine ORDER BY 1")] == [
        (date(2010, 12, 1), "a.csv", 4, "bad_invoice_date",
         "InvoiceDate '31/12/2010 25:00' is in none of the layouts YYYY-MM-DD HH:MM:SS, YYYY-MM-DD HH:MM, M/D/YYYY H:MM"),
        (date(2010, 12, 3), "b.csv", 2, "bad_invoice_date",
         "InvoiceDate 'not a date' is in none of the layouts YYYY-MM-DD HH:MM:SS, YYYY-MM-DD HH:MM, M/D/YYYY H:MM"),
    ]
    # the register names the day b.csv's line went to, so the run over that day reads it again
    assert [(name(r[0]), *r[1:]) for r in query(
        "SELECT source_file, first_day, last_day, line_count FROM order_export_files ORDER BY 1")] == [
        ("a.csv", date(2010, 12, 1), date(2010, 12, 2), 3), ("b.csv", date(2010, 12, 3), date(2010, 12, 3), 1),
    ]
    before = outcome(query)

    # One run over the three days gives the same rows, and so does a rerun.
    for _ in range(2):
        assert materialize_range(ASSETS, resources, "2010-12-01", "2010-12-03").success
        assert outcome(query) == before


def test_a_bad_file_is_one_quarantine_record_and_the_exports_beside_it_load(landing_dir, resources, query):
    """Before: the cut gzip (OSError: Truncated compressed stream) failed raw_orders and none of
    the five exports was loaded; an empty file ("Empty CSV file"), a line with the wrong number of
    fields ("Expected 8 columns, got 2") or a Latin-1 byte ("invalid UTF8 data") each failed the
    run the same way."""
    orders = landing_dir / "orders"
    orders.mkdir()
    (orders / "good.csv").write_text(HEADER + line("1", "A", "1", "2010-12-01 09:00:00", "1.5")
                                     + line("2", "B", "2", "2010-12-01 09:05:00", "2.5"))
    (orders / "empty.csv").write_bytes(b"")
    whole = (HEADER + line("3", "C", "3", "2010-12-01 10:00:00", "3.5") * 200).encode()
    (orders / "cut.csv.gz").write_bytes(gzip.compress(whole)[:150])  # a copy cut short
    ragged_two = '"5","E"'
    ragged_nine = '"7","G","g","7","2010-12-01 11:00:00","7.5","17850","United Kingdom","extra"'
    (orders / "ragged.csv").write_text(HEADER + line("4", "D", "4", "2010-12-01 11:00:00", "4.5")
                                       + ragged_two + "\n" + line("6", "F", "6", "2010-12-01 11:00:00", "6.5")
                                       + ragged_nine + "\n")
    (orders / "latin.csv").write_bytes((HEADER + line("8", "H", "8", "2010-12-01 12:00:00", "8.5",
                                                      description="CAFÉ CRÈME")).encode("latin-1"))
    for unreadable in ("empty.csv", "cut.csv.gz"):
        modified_on(orders / unreadable, "2010-12-01")

    result = materialize_range(ASSETS, resources, "2010-12-01", "2010-12-01", raise_on_error=False)
    # the exports beside the bad ones load, and the two files not read at all fail the blocking
    # gate (their lines are lost, how many is unknown): the day's metrics wait, nothing else fails
    assert unreadable_gate_failed(result, files=2)
    # raw: good 2 + empty 1 record + cut 1 record + ragged 4 lines + latin 1 = 9
    # = clean 5 (good 2, ragged 2, latin 1) + quarantined 4
    assert reconciled(result) == [("clean_order_lines_reconciles_with_raw", True, 9, 0)]
    assert query("SELECT invoice_no, description FROM clean_order_lines ORDER BY 1") == [
        ("1", "ITEM"), ("2", "ITEM"), ("4", "ITEM"), ("6", "ITEM"), ("8", "CAFÉ CRÈME"),
    ]
    quarantined = [(name(r[0]), *r[1:]) for r in query(
        "SELECT source_file, line_number, reason_code, reason_detail, raw_line FROM quarantine ORDER BY 1, 2")]
    assert [r[:3] for r in quarantined] == [
        ("cut.csv.gz", None, "unreadable_export"), ("empty.csv", None, "unreadable_export"),
        ("ragged.csv", 3, "malformed_line"), ("ragged.csv", 5, "malformed_line"),
    ]
    assert "Truncated compressed stream" in quarantined[0][3] and "Empty CSV file" in quarantined[1][3]
    assert [r[3:] for r in quarantined[2:]] == [
        ("malformed line: expected 8 fields, found 2", ragged_two),
        ("malformed line: expected 8 fields, found 9", ragged_nine),
    ]
    assert [(name(r[0]), *r[1:]) for r in query(
        "SELECT source_file, encoding, first_day, line_count FROM order_export_files ORDER BY 1")] == [
        ("cut.csv.gz", "unread", date(2010, 12, 1), 1), ("empty.csv", "unread", date(2010, 12, 1), 1),
        ("good.csv", "utf8", date(2010, 12, 1), 2), ("latin.csv", "latin-1", date(2010, 12, 1), 1),
        ("ragged.csv", "utf8", date(2010, 12, 1), 4),
    ]
    before = outcome(query)
    assert unreadable_gate_failed(materialize_range(ASSETS, resources, "2010-12-01", "2010-12-01", raise_on_error=False),
                                  files=2)
    assert outcome(query) == before  # a rerun replaces the same rows


DOMAIN_LINES = [
    # (line, expected reason or None for clean), by hand from the domains in docs/events.md
    (line("10", "A", "0", "2010-12-01 09:00:00", "1.5"), "quantity_out_of_domain"),
    (line("11", "A", "1.5", "2010-12-01 09:00:00", "1.5"), "quantity_out_of_domain"),  # was clean, 2 items
    (line("12", "A", "many", "2010-12-01 09:00:00", "1.5"), "schema_violation"),
    (line("13", "A", "1000000", "2010-12-01 09:00:00", "1.5"), "quantity_out_of_domain"),
    (line("14", "A", "1", "2010-12-01 09:00:00", "NaN"), "price_out_of_domain"),
    (line("15", "A", "1", "2010-12-01 09:00:00", "inf"), "price_out_of_domain"),
    (line("16", "A", "1", "2010-12-01 09:00:00", "1e400"), "price_out_of_domain"),
    (line("17", "A", "1", "2010-12-01 09:00:00", "1000000000"), "price_out_of_domain"),  # was clean
    (line("18", "A", "1", "2010-12-01 09:00:00", "12,50"), "schema_violation"),
    (line("19", "A", "1", "2010-12-01 09:00:00", "1.2345"), "price_out_of_domain"),  # was clean, 1.235
    (line("20", "A", "6", "2010-12-01 09:00:00", "-1.69"), "invalid_price"),
    (line("21", "A", "6", "2010-12-01 09:00:00", "2.55"), None),
    (line("C22", "A", "-2", "2010-12-01 10:00:00", "2.55"), None),  # a cancellation, negative
    (line("A563186", "B", "1", "2010-12-01 11:00:00", "-11062.06", description="Adjust bad debt", customer=""), None),
    (line("23", "A", "-5", "2010-12-01 12:00:00", "0", description="damaged", customer=""), None),  # stock write-off
    (line("24", "A", "999999", "2010-12-01 13:00:00", "999999999.999"), None),  # the edge of both domains
]


def test_values_outside_their_domain_are_quarantined_not_coerced(landing_dir, resources, query, hostile_feed):
    """Before: "1.5" items were cast (rounded) to 2, "1.2345" to 1.235 and a price of 1e9 passed,
    all clean; "NaN", "inf" and "1e400" were schema violations without their text."""
    orders = landing_dir / "orders"
    orders.mkdir()
    (orders / "export.csv").write_text(HEADER + "".join(text for text, _ in DOMAIN_LINES))
    result = materialize_range(ASSETS, resources, "2010-12-01", "2010-12-01")
    assert result.success
    assert reconciled(result) == [("clean_order_lines_reconciles_with_raw", True, 16, 0)]
    expected = {n + 2: reason for n, (_, reason) in enumerate(DOMAIN_LINES) if reason}
    assert dict(query("SELECT line_number, reason_code FROM quarantine")) == expected
    assert dict(query("SELECT reason_code, count(*) FROM quarantine GROUP BY 1")) == {
        "quantity_out_of_domain": 3, "price_out_of_domain": 5, "schema_violation": 2, "invalid_price": 1,
    }
    details = dict(query("SELECT record_key, reason_detail FROM quarantine"))
    assert details["11"] == "Quantity '1.5' is not a whole number from -999999 to 999999 other than 0"
    assert details["16"] == "UnitPrice '1e400' is not a decimal of at most 3 decimals below 1e9 in magnitude"
    # the rejected line verbatim, every field as text as the export wrote it (nothing cast or trimmed)
    raw = dict(query("SELECT record_key, raw_line FROM quarantine"))
    assert json.loads(raw["12"]) == {"InvoiceNo": "12", "StockCode": "A", "Description": "ITEM", "Quantity": "many",
                                     "InvoiceDate": "2010-12-01 09:00:00", "UnitPrice": "1.5",
                                     "CustomerID": "17850", "Country": "United Kingdom"}
    assert query("SELECT invoice_no, quantity, unit_price, line_amount, line_type FROM clean_order_lines ORDER BY line_number") == [
        ("21", 6, Decimal("2.550"), Decimal("15.30"), "product"),
        ("C22", -2, Decimal("2.550"), Decimal("-5.10"), "product"),
        ("A563186", 1, Decimal("-11062.060"), Decimal("-11062.06"), "bad_debt_adjustment"),
        ("23", -5, Decimal("0.000"), Decimal("0.00"), "stock_adjustment"),
        # 999999 x 999999999.999 = 999998999999000.001: fits line_amount's DECIMAL(18, 2)
        ("24", 999999, Decimal("999999999.999"), Decimal("999998999999000.00"), "product"),
    ]


@pytest.mark.parametrize("configured_by", ["resource", "environment"])
def test_a_configured_order_exports_path_that_does_not_exist_fails_naming_it(
        landing_dir, warehouse, tmp_path, monkeypatch, configured_by):
    """Before: a misspelt path read "0 lines from 0 of 0 exports" and the run was green."""
    missing = tmp_path / "ordres"
    if configured_by == "resource":
        zone = LandingZone(path=str(landing_dir), order_exports=str(missing))
    else:
        monkeypatch.setenv("SHOPVERSE_ORDER_EXPORTS", str(missing))
        zone = LandingZone(path=str(landing_dir))
    resources = {"warehouse": warehouse, "landing_zone": zone}
    result = materialize_range([raw_orders], resources, "2010-12-01", "2010-12-01", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.cause.message
    assert f"the order-exports path {missing} does not exist" in message


def test_the_default_order_exports_folder_may_be_absent(landing_dir, resources, query):
    """No exports landed yet (<landing>/orders absent, nothing configured): green, no rows."""
    assert not (landing_dir / "orders").exists()
    assert materialize_range([raw_orders], resources, "2010-12-01", "2010-12-01").success
    assert query("SELECT count(*) FROM raw_orders") == [(0,)]


def test_a_warehouse_from_before_the_read_error_columns_still_cleans(landing_dir, resources, warehouse, query):
    """raw_orders and order_export_files created by the previous version (no read_error, raw_text,
    encoding): cleaning adds the columns it reads, and raw_orders adds its own on its next run."""
    with warehouse.connect() as con:
        con.execute("CREATE TABLE raw_orders (partition_date DATE, source_file VARCHAR, line_number INTEGER, "
                    "invoice_no VARCHAR, stock_code VARCHAR, description VARCHAR, quantity VARCHAR, "
                    "invoice_date VARCHAR, unit_price VARCHAR, customer_id VARCHAR, country VARCHAR)")
        con.execute("INSERT INTO raw_orders VALUES ('2010-12-01', 'old.csv', 2, '1', 'A', 'a', '1', "
                    "'2010-12-01 09:00:00', '1.5', '7', 'UK')")
        con.execute("CREATE TABLE order_export_files (source_file VARCHAR NOT NULL, size_bytes BIGINT NOT NULL, "
                    "modified_ns BIGINT NOT NULL, first_day DATE, last_day DATE, line_count BIGINT NOT NULL)")
    assert materialize_range([clean_order_lines], resources, "2010-12-01", "2010-12-01").success
    assert query("SELECT invoice_no, source_file FROM clean_order_lines") == [("1", "old.csv")]
    orders = landing_dir / "orders"
    orders.mkdir()
    (orders / "new.csv").write_text(HEADER + line("2", "B", "2", "2010-12-02 09:00:00", "2.5"))
    assert materialize_range(ASSETS, resources, "2010-12-02", "2010-12-02").success
    assert query("SELECT source_file LIKE '%new.csv', encoding, line_count FROM order_export_files") == [(True, "utf8", 1)]
    assert query("SELECT invoice_no, read_error FROM raw_orders ORDER BY 1") == [("1", None), ("2", None)]


def test_the_run_warns_naming_each_file_not_read_whole(tmp_path):
    from shopverse_platform.lib.ingestion import order_exports

    (tmp_path / "good.csv").write_text(HEADER + line("1", "A", "1", "2010-12-01 09:00:00", "1.5"))
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "ragged.csv").write_text(HEADER + '"5","E"\n' + line("6", "F", "6", "2010-12-01 11:00:00", "6.5"))
    (tmp_path / "latin.csv").write_bytes((HEADER + line("8", "H", "8", "2010-12-01 12:00:00", "8.5", description="CAFÉ")).encode("latin-1"))
    exports = [order_exports.read_order_export(tmp_path / f) for f in ("good.csv", "empty.csv", "ragged.csv", "latin.csv")]
    assert [(e.num_rows, order_exports.export_encoding(e)) for e in exports] == [(1, "utf8"), (1, "unread"), (2, "utf8"), (1, "latin-1")]
    assert exports[2].column("line_number").to_pylist() == [3, 2]  # the read line, then the malformed one
    # where write_raw_orders put their unread lines: the ragged file's first invoice day; the empty
    # file has none, so the day it was modified (a day outside the run's window here)
    first_days = {str(tmp_path / "empty.csv"): date(2026, 3, 4), str(tmp_path / "ragged.csv"): date(2010, 12, 1)}
    assert order_exports.read_warnings(exports, first_days, date(2010, 12, 1), date(2010, 12, 8)) == [
        f"{tmp_path / 'empty.csv'}: 1 line(s) not read (unreadable export: ArrowInvalid: Empty CSV file): "
        "clean_order_lines quarantines them in the day 2026-03-04, outside this run (2010-12-01..2010-12-07): "
        "the landing sensor's run of that day, or `shopverse backfill --start 2026-03-04 --end 2026-03-04`, "
        "quarantines them",
        f"{tmp_path / 'ragged.csv'}: 1 line(s) not read (malformed line: expected 8 fields, found 2): "
        "clean_order_lines quarantines them in the day 2010-12-01",
        f"{tmp_path / 'latin.csv'}: not valid UTF-8, decoded as latin-1",
    ]


def test_the_warning_names_the_day_the_run_recorded_for_an_unreadable_export(landing_dir, resources, warehouse, query):
    """Found using the platform: a truncated re-sent export beside a year of UCI exports, backfilled
    over the year, warned "clean_order_lines quarantines them", but its one record line went to the
    day the file was modified (today), outside the backfill, whose quarantine never showed it."""
    from shopverse_platform.lib.ingestion import order_exports

    orders = landing_dir / "orders"
    orders.mkdir()
    (orders / "orders.csv").write_text(HEADER + line("1", "A", "1", "2010-12-01 09:00:00", "1.5"))
    truncated = orders / "resend.csv.gz"
    truncated.write_bytes(gzip.compress((HEADER + line("2", "B", "2", "2010-12-01 10:00:00", "2.5") * 500).encode())[:200])
    modified_on(truncated, "2026-03-04")
    assert materialize_range(ASSETS, resources, "2010-12-01", "2010-12-01").success
    assert query("SELECT count(*) FROM quarantine") == [(0,)]  # its record line is not in this run's day
    with warehouse.connect(read_only=True) as con:
        first_days = order_exports.recorded_first_days(con)
    assert first_days == {str(orders / "orders.csv"): date(2010, 12, 1), str(truncated): date(2026, 3, 4)}
    (warning,) = order_exports.read_warnings([order_exports.read_order_export(truncated)], first_days,
                                             date(2010, 12, 1), date(2010, 12, 2))
    assert "in the day 2026-03-04, outside this run (2010-12-01..2010-12-01)" in warning
    materialize_range(ASSETS, resources, "2026-03-04", "2026-03-04", raise_on_error=False)
    assert query("SELECT reason_code, source_file FROM quarantine") == [("unreadable_export", str(truncated))]


def test_an_exact_repeat_is_the_copy_in_the_export_that_arrived_later(landing_dir, resources, query):
    """Found using the platform: a late export named so that it sorts first ("late_...") made the
    original line the repeat and kept the late copy. The copy kept is the one in the export that
    arrived first (modified first, as ingestion read it), whatever the names."""
    orders = landing_dir / "orders"
    orders.mkdir()
    original = orders / "online_retail.csv"
    original.write_text(HEADER + line("536365", "85123A", "6", "2010-12-01 08:26:00", "2.55")
                        + line("536366", "22633", "6", "2010-12-01 08:28:00", "1.85"))
    late = orders / "late_export.csv"
    late.write_text(HEADER + line("536366", "22633", "6", "2010-12-01 08:28:00", "1.85"))  # an exact repeat
    modified_on(original, "2010-12-02")
    modified_on(late, "2010-12-20")  # arrived weeks later
    assert materialize_range(ASSETS, resources, "2010-12-01", "2010-12-01").success
    assert [(name(f), n, r) for f, n, r in query(
        "SELECT source_file, line_number, reason_code FROM quarantine WHERE source = 'orders'")] == [
        ("late_export.csv", 2, "duplicate_line")]
    assert sorted((name(f), n) for f, n in query("SELECT source_file, line_number FROM clean_order_lines")) == [
        ("online_retail.csv", 2), ("online_retail.csv", 3)]


def _raw_orders_failure(result) -> str:
    """The message raw_orders failed with (the run must have failed in that step)."""
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE" and e.step_key == "raw_orders")
    return failure.event_specific_data.error.cause.message


def _raw_orders_rows(query) -> list:
    return [(day, name(f), n) for day, f, n in query(
        "SELECT partition_date, source_file, line_number FROM raw_orders ORDER BY ALL")]


def test_a_rerun_without_an_export_it_loaded_fails_and_changes_nothing(landing_dir, resources, query):
    """Found using the platform: the UCI year backfilled, then June rerun from a shell that had not
    set SHOPVERSE_ORDER_EXPORTS: raw_orders read "0 lines from 0 of 0 exports", replaced June with
    nothing, and the run was green: 36,611 order lines and 2,014 orders (1,535 sales) gone from every table
    built on them. An export the window's lines came from that is no longer under the path now fails
    the run before anything changes; dropping its lines takes the run's word for it."""
    orders = landing_dir / "orders"
    orders.mkdir()
    (orders / "a.csv").write_text(HEADER + line("1", "A", "1", "2010-12-01 09:00:00", "1.5")
                                  + line("2", "B", "2", "2010-12-02 09:00:00", "2.5"))
    (orders / "b.csv").write_text(HEADER + line("3", "C", "3", "2010-12-01 10:00:00", "3.5")
                                  + line("4", "D", "4", "2010-12-01 10:05:00", "4.5"))
    assert materialize_range([raw_orders], resources, "2010-12-01", "2010-12-02").success
    loaded = _raw_orders_rows(query)
    assert len(loaded) == 4
    (orders / "b.csv").unlink()

    message = _raw_orders_failure(materialize_range([raw_orders], resources, "2010-12-01", "2010-12-02",
                                                    raise_on_error=False))
    assert (f"1 order export(s) these days were built from is not in the order-exports path {orders} any more: "
            f"{orders / 'b.csv'} (2 lines). Rebuilding the days without them would drop 2 order lines, so nothing "
            "was changed.") in message
    assert "--drop-missing-inputs" in message
    assert _raw_orders_rows(query) == loaded
    # a day b.csv never reached is rebuilt as ever
    assert materialize_range([raw_orders], resources, "2010-12-02", "2010-12-02").success
    assert _raw_orders_rows(query) == loaded

    dropping = {"ops": {"raw_orders": {"config": {"drop_missing_inputs": True}}}}
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([raw_orders], resources=resources, run_config=dropping, instance=instance,
                                tags={RANGE_START: "2010-12-01", RANGE_END: "2010-12-01"})
        assert result.success
        warnings = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.WARNING]
    assert _raw_orders_rows(query) == [(date(2010, 12, 1), "a.csv", 2), (date(2010, 12, 2), "a.csv", 3)]
    assert warnings == [f"raw_orders 2010-12-01..2010-12-02: {orders / 'b.csv'} is gone from {orders}; "
                        "its 2 lines of these days are dropped (drop_missing_inputs)"]
    # dropped: nothing of it is left to lose, so the next rerun needs no word
    assert materialize_range([raw_orders], resources, "2010-12-01", "2010-12-02").success
    assert len(_raw_orders_rows(query)) == 2


def test_the_exports_path_set_wrong_on_a_rerun_fails(landing_dir, warehouse, tmp_path, query, monkeypatch):
    """The case met: the exports configured for the first run, the default (absent) for the rerun."""
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "year.csv").write_text(HEADER + line("1", "A", "1", "2010-12-01 09:00:00", "1.5"))
    monkeypatch.setenv("SHOPVERSE_ORDER_EXPORTS", str(exports))
    zone = LandingZone(path=str(landing_dir))
    assert materialize_range([raw_orders], {"warehouse": warehouse, "landing_zone": zone}, "2010-12-01", "2010-12-01").success
    monkeypatch.delenv("SHOPVERSE_ORDER_EXPORTS")
    message = _raw_orders_failure(materialize_range([raw_orders], {"warehouse": warehouse, "landing_zone": zone},
                                                    "2010-12-01", "2010-12-01", raise_on_error=False))
    assert f"not in the order-exports path {landing_dir / 'orders'} any more: {exports / 'year.csv'} (1 lines)" in message
    assert query("SELECT count(*) FROM raw_orders") == [(1,)]


def test_an_export_moved_or_renamed_is_not_missing(landing_dir, warehouse, tmp_path, query):
    """Moved to another folder (the path pointed there) or renamed in place: the same file, whose
    lines come back from its new path; the rerun is green and the window holds them once."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    (first / "a.csv").write_text(HEADER + line("1", "A", "1", "2010-12-01 09:00:00", "1.5")
                                 + line("2", "B", "2", "2010-12-01 09:05:00", "2.5"))
    def run(folder):
        zone = LandingZone(path=str(landing_dir), order_exports=str(folder))
        return materialize_range([raw_orders], {"warehouse": warehouse, "landing_zone": zone}, "2010-12-01", "2010-12-01")
    assert run(first).success
    first.rename(second)  # the folder moved: same names and sizes
    assert run(second).success
    assert _raw_orders_rows(query) == [(date(2010, 12, 1), "a.csv", 2), (date(2010, 12, 1), "a.csv", 3)]
    (second / "a.csv").rename(second / "renamed.csv")  # renamed in place: same size and modification time
    assert run(second).success
    assert _raw_orders_rows(query) == [(date(2010, 12, 1), "renamed.csv", 2), (date(2010, 12, 1), "renamed.csv", 3)]


def test_backfill_passes_the_drop_to_the_raw_assets_in_a_config_the_daily_job_accepts(monkeypatch):
    """`shopverse backfill --drop-missing-inputs`: the daily run, and only it, gets the raw assets' config,
    in a run config the daily job accepts (an op name or field spelt wrong is refused by Dagster here,
    not at a user's run)."""
    from shopverse_platform.cli import backfill as cli_backfill
    from shopverse_platform.cli.main import build_parser
    from shopverse_platform.definitions import defs

    args = build_parser().parse_args(["backfill", "--start", "2010-12-01", "--end", "2010-12-14", "--drop-missing-inputs"])
    assert args.drop_missing_inputs
    given = []

    def run_range(defs, instance, job_name, first, last, trigger, log_level, assets, what, echo, execution, ops):
        given.append((what, ops))
        return cli_backfill.BackfillStage(what, str(first), str(last), "run", True, 0.0), None

    monkeypatch.setattr(cli_backfill, "run_range", run_range)
    monkeypatch.setattr(cli_backfill, "wait_until_idle", lambda *a, **k: None)
    definitions = defs()
    dropping = {name: {"config": {"drop_missing_inputs": True}} for name in ("raw_events", "raw_orders")}
    for drop in (cli_backfill.RAW_INPUTS if args.drop_missing_inputs else (), ()):
        given.clear()
        cli_backfill.backfill(definitions, None, args.start, args.end, echo=lambda line: None, drop_missing_inputs=drop)
        assert given == [("daily_job", dropping if drop else None), ("weekly_job", None), ("daily reports", None)]
    assert dg.validate_run_config(definitions.resolve_job_def("daily_job"), {"ops": dropping})
