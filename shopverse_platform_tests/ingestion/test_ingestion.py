"""Ingestion: the landing layouts, and the real UCI Online Retail export loaded whole."""

from __future__ import annotations

import gzip
import io
import json
import os
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.compute
import pyarrow.dataset
import pytest

from shopverse_platform.defs.cleaning.assets import clean_events
from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders
from shopverse_platform.defs.resources import LandingZone
from shopverse_platform.lib.ingestion import landing, order_exports
from shopverse_platform_tests.conftest import Built, materialize_range
from shopverse_platform_tests.ml.warehouses import retail_orders


def _write_mixed_landing(landing_dir) -> None:
    day = landing_dir / "events" / "2024-03-05"
    day.mkdir(parents=True)
    (day / "batch-0001.ndjson").write_text('{"a": 1}\n\n{"a": 2}\r\n')  # a blank line, a CRLF line
    (day / "batch-0002[b].ndjson.gz").write_bytes(gzip.compress(b'{"a": 3}\nnot json'))  # no final newline; a glob character
    (day / "notes.txt").write_text("not an event file: registered as one quarantine record")
    logs = landing_dir / "logs" / "20240305"
    logs.mkdir(parents=True)
    for n in range(3):
        (logs / f"evt-{n}.json").write_text(json.dumps({"a": 10 + n}, indent=2))
    (logs / "evt-empty.json").write_text("")


def test_raw_events_registers_batches_gzip_and_one_file_per_event(landing_dir, resources, query):
    _write_mixed_landing(landing_dir)
    result = materialize_range([raw_events], resources, "2024-03-05", "2024-03-05")
    assert result.success
    rows = query("SELECT source_file, layout, line_count, blank_lines, size_bytes FROM raw_events ORDER BY source_file")
    assert [(r[0].split("/")[-1], r[1], r[2], r[3]) for r in rows] == [
        ("batch-0001.ndjson", "ndjson", 2, 1),
        ("batch-0002[b].ndjson.gz", "ndjson", 2, 0),
        ("notes.txt", "ndjson", 1, 0),  # not read: one line, its quarantine record
        ("evt-0.json", "logs", 1, 0),
        ("evt-1.json", "logs", 1, 0),
        ("evt-2.json", "logs", 1, 0),
        ("evt-empty.json", "logs", 0, 1),
    ]
    assert rows[0][4] == len('{"a": 1}\n\n{"a": 2}\r\n')
    materialization = result.asset_materializations_for_node("raw_events")[0]
    assert materialization.metadata["lines"].value == 8
    assert materialization.metadata["blank_lines_skipped"].value == 2
    assert materialization.metadata["files"].value == 7
    assert materialization.metadata["files_quarantined"].value == 1


def test_read_lines_keeps_lines_verbatim_with_their_numbers(landing_dir):
    _write_mixed_landing(landing_dir)
    files = landing.event_files(landing_dir / "events", landing_dir / "logs", date(2024, 3, 5), date(2024, 3, 6))
    (bad := landing_dir / "events" / "2024-03-05" / "batch-0003.ndjson").write_bytes(b'{"a": 4}\n\xff\xfe\n\n{"a":\x1f5}\n')
    files.append(landing.LandingFile(str(bad), date(2024, 3, 5), "ndjson"))
    table = landing.read_lines(files)
    rows = sorted((r["source_file"].split("/")[-1], r["line_number"], r["raw_line"], r["encoding_error"]) for r in table.to_pylist())
    assert rows == [
        ("batch-0001.ndjson", 1, '{"a": 1}', False),
        ("batch-0001.ndjson", 3, '{"a": 2}', False),
        ("batch-0002[b].ndjson.gz", 1, '{"a": 3}', False),
        ("batch-0002[b].ndjson.gz", 2, "not json", False),
        # Polars cannot split this file (bad UTF-8, a control byte): read line by line instead
        ("batch-0003.ndjson", 1, '{"a": 4}', False),
        ("batch-0003.ndjson", 2, "\ufffd\ufffd", True),
        ("batch-0003.ndjson", 4, '{"a":\x1f5}', False),
        ("evt-0.json", 1, json.dumps({"a": 10}, indent=2), False),
        ("evt-1.json", 1, json.dumps({"a": 11}, indent=2), False),
        ("evt-2.json", 1, json.dumps({"a": 12}, indent=2), False),
    ]


def test_read_lines_gives_lines_pyarrow_can_filter_by_a_set_of_values(landing_dir):
    # DuckDB scans the registered lines through pyarrow and pushes the keys a hash join collects from
    # its small side into that scan as `column IN (...)`; DuckDB 1.5 has pyarrow evaluate it, which
    # has no such kernel for string views ("Function 'is_in' has no kernel matching input types
    # (string_view)"). Checked here with pyarrow alone, whichever DuckDB the suite runs on.
    _write_mixed_landing(landing_dir)
    files = landing.event_files(landing_dir / "events", landing_dir / "logs", date(2024, 3, 5), date(2024, 3, 6))
    (bad := landing_dir / "events" / "2024-03-05" / "batch-0003.ndjson").write_bytes(b'{"a": 4}\n\xff\n')
    files.append(landing.LandingFile(str(bad), date(2024, 3, 5), "ndjson"))  # the careful path
    table = landing.read_lines(files)
    wanted_files = [str(landing_dir / "events" / "2024-03-05" / "batch-0001.ndjson"), str(bad),
                    str(landing_dir / "logs" / "20240305" / "evt-1.json")]  # Polars, careful, one-event
    wanted_lines = ['{"a": 2}', '{"a": 4}', json.dumps({"a": 11}, indent=2), '{"a": 3}']
    found = pyarrow.dataset.dataset(table).to_table(
        filter=pyarrow.compute.field("source_file").isin(wanted_files)
        & pyarrow.compute.field("raw_line").isin(wanted_lines),
    )
    assert sorted((r["source_file"].split("/")[-1], r["line_number"]) for r in found.to_pylist()) == [
        ("batch-0001.ndjson", 3), ("batch-0003.ndjson", 1), ("evt-1.json", 1),
    ]
    empty = landing.read_lines([])
    assert pyarrow.dataset.dataset(empty).to_table(filter=pyarrow.compute.field("source_file").isin(wanted_files)).num_rows == 0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", (0, 0)), (b"a", (1, 0)), (b"a\n", (1, 0)), (b"\n", (0, 1)), (b"\r\n", (0, 1)),
        (b"a\n\nb", (2, 1)), (b"a\r\n\r\nb\r\n", (2, 1)), (b"a\n\n\n", (1, 2)), (b"  \n", (1, 0)),
    ],
)
def test_count_lines_counts_lines_and_blank_lines(data, expected):
    assert landing.count_lines(data) == expected
    for block_size in (1, 2, 3):  # a stream read in blocks that cut lines anywhere counts the same
        assert landing.count_lines_in(io.BytesIO(data), block_size) == expected
    # the same count as splitting the text, the way a person would
    lines = data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n") if data else []
    assert sum(1 for line in lines if line.rstrip(b"\r")) == expected[0]


def test_clean_events_refuses_a_landing_file_changed_after_registration(landing_dir, resources):
    _write_mixed_landing(landing_dir)
    assert materialize_range([raw_events], resources, "2024-03-05", "2024-03-05").success
    batch = landing_dir / "events" / "2024-03-05" / "batch-0001.ndjson"
    batch.write_text(batch.read_text() + '{"a": 99}\n')  # appended after raw_events counted it
    result = materialize_range([clean_events], resources, "2024-03-05", "2024-03-05", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.cause.message  # the asset's own error, under Dagster's
    assert "batch-0001.ndjson" in message and "Re-materialize raw_events for 2024-03-05" in message


def _registered(query) -> list[tuple[str, int]]:
    return [(path.rsplit("/", 1)[-1], lines) for path, lines in
            query("SELECT source_file, line_count FROM raw_events ORDER BY source_file")]


def test_a_rerun_without_landing_files_it_registered_fails_and_changes_nothing(landing_dir, warehouse, tmp_path, query):
    """As raw_orders' exports (found rerunning the UCI year's June from a shell without
    SHOPVERSE_ORDER_EXPORTS): before, a rerun of a day whose landing files were deleted, or with
    the landing path set wrong, registered what it found (nothing) and cleaning then emptied the
    day's events, in a green run. Now it fails naming the files; moved, the files are the same
    files; dropped only on the run's word."""
    _write_mixed_landing(landing_dir)
    zone = LandingZone(path=str(landing_dir))
    assert materialize_range([raw_events], {"warehouse": warehouse, "landing_zone": zone}, "2024-03-05", "2024-03-05").success
    registered = _registered(query)
    assert len(registered) == 7

    def rerun(root, **kwargs):
        resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=str(root))}
        return materialize_range([raw_events], resources, "2024-03-05", "2024-03-05", **kwargs)

    def failure(result) -> str:
        assert not result.success
        return next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE").event_specific_data.error.cause.message

    elsewhere = tmp_path / "wrong_landing"
    elsewhere.mkdir()
    message = failure(rerun(elsewhere, raise_on_error=False))
    assert f"7 landing file(s) these days were built from are not in the landing zone {elsewhere} any more" in message
    assert "would drop 8 lines, so nothing was changed" in message  # 2 + 2 + 1 + 1 + 1 + 1 + 0
    assert _registered(query) == registered

    moved = tmp_path / "moved_landing"
    landing_dir.rename(moved)  # the landing zone moved: the same files, read from their new paths
    assert rerun(moved).success
    assert _registered(query) == registered
    assert all(path.startswith(str(moved)) for (path,) in query("SELECT source_file FROM raw_events"))

    (moved / "events" / "2024-03-05" / "batch-0001.ndjson").unlink()
    message = failure(rerun(moved, raise_on_error=False))
    assert f"1 landing file(s) these days were built from is not in the landing zone {moved} any more: " \
           f"{moved / 'events' / '2024-03-05' / 'batch-0001.ndjson'} (2 lines)" in message
    assert _registered(query) == registered
    assert rerun(moved, run_config={"ops": {"raw_events": {"config": {"drop_missing_inputs": True}}}}).success
    assert _registered(query) == [r for r in registered if r[0] != "batch-0001.ndjson"]


def test_a_file_of_the_same_name_in_another_day_does_not_stand_for_a_gone_one(tmp_path):
    """Every day folder has a batch-0001.ndjson, often of one size (one-event files: evt-1.json):
    a landing file is named by its day folder too, or a deleted day's file would pass for moved."""
    from shopverse_platform.lib.ingestion import gone_inputs

    def landed(root, day):
        path = root / "events" / day / "batch-0001.ndjson"
        path.parent.mkdir(parents=True)
        path.write_text('{"a": 1}\n')
        return str(path)

    first, second = landed(tmp_path / "landing", "2024-03-05"), landed(tmp_path / "landing", "2024-03-06")
    recorded = {path: (os.stat(path).st_size, 0) for path in (first, second)}  # mtimes that match nothing
    Path(first).unlink()
    assert gone_inputs.gone(recorded, [second], name_parts=3) == [first]
    assert gone_inputs.gone(recorded, [second], name_parts=1) == []  # a file name alone would hide it
    moved = [landed(tmp_path / "moved", day) for day in ("2024-03-05", "2024-03-06")]  # the zone elsewhere
    assert gone_inputs.gone(recorded, moved, name_parts=3) == []


@pytest.fixture(scope="module")
def online_retail_independent(online_retail_file) -> pd.DataFrame:
    """The real export read by pandas, a second method independent of the DuckDB pipeline."""
    return pd.read_csv(online_retail_file, dtype=str, keep_default_na=False)


def test_real_online_retail_loads_whole_and_reconciles(tmp_path_factory, online_retail_file, online_retail_independent):
    # raw_orders and clean_order_lines over the whole range in one run: the session's retail
    # template (ml/warehouses.py), which the metric and model tests then build on, read only here
    built = retail_orders(tmp_path_factory, online_retail_file)
    result, query = built.result, Built(built.warehouse(), {}).query
    assert result.success
    df = online_retail_independent
    assert query("SELECT count(*) FROM raw_orders")[0][0] == len(df) == 541_909
    # published statistics of the dataset (../shared/data/README.md)
    assert query("SELECT count(DISTINCT invoice_no), count(DISTINCT customer_id) FROM clean_order_lines")[0] == (25_900, 4_372)
    assert query("SELECT count(*) FROM raw_orders WHERE invoice_no LIKE 'C%'")[0][0] == 9_288
    assert query("SELECT count(*) FROM raw_orders WHERE customer_id IS NULL")[0][0] == 135_080
    # exact repeats, counted by pandas: they and only they are quarantined as duplicates
    repeats = int(df.duplicated().sum())
    assert query("SELECT count(*) FROM quarantine WHERE source = 'orders' AND reason_code = 'duplicate_line'")[0][0] == repeats
    assert query("SELECT count(*) FROM clean_order_lines")[0][0] == len(df) - repeats
    deduped = df.drop_duplicates()
    assert query("SELECT count(*) FROM clean_order_lines WHERE is_cancellation")[0][0] == int(deduped.InvoiceNo.str.startswith("C").sum())
    assert query("SELECT count(*) FROM clean_order_lines WHERE line_type = 'postage' AND stock_code = 'POST'")[0][0] == int((deduped.StockCode == "POST").sum())
    # net of all lines equals pandas' sum of quantity x price over the deduplicated export
    expected_net = (deduped.Quantity.astype(int) * deduped.UnitPrice.astype(float)).sum()
    assert float(query("SELECT sum(line_amount) FROM clean_order_lines")[0][0]) == pytest.approx(expected_net, abs=1.0)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["clean_order_lines_reconciles_with_raw"].passed
    assert checks["clean_order_lines_reconciles_with_raw"].metadata["raw"].value == 541_909
    # The input-quality gate warns, and only on volume: no day rejects over 1 % of its lines, but
    # the shop's closures show as days where "nothing arrived". On weekdays of 2011 they are
    # exactly the England and Wales bank holidays inside the export's range (gov.uk), the royal
    # wedding of 29 April included.
    gate = checks["clean_order_lines_input_quality"]
    assert (gate.passed, gate.severity, gate.metadata["days_failed"].value) == (False, dg.AssetCheckSeverity.WARN, [])
    assert query("SELECT count(*) FROM input_quality WHERE rejected_share > 0.01")[0][0] == 0
    closed = {d for (d,) in query("SELECT partition_date FROM input_quality WHERE lines_received = 0 AND status = 'warn' "
                                  "AND year(partition_date) = 2011 AND isodow(partition_date) <= 5")}
    assert closed == {date(2011, 1, 3), date(2011, 4, 22), date(2011, 4, 25), date(2011, 4, 29), date(2011, 5, 2),
                      date(2011, 5, 30), date(2011, 8, 29)}


def test_day_chunks_tile_the_window_by_whole_days():
    def f(day: int, size: int) -> landing.LandingFile:
        return landing.LandingFile(f"/l/{day}/b.ndjson", date(2024, 3, day), "ndjson", size, 0)

    files = [f(1, 40), f(1, 30), f(2, 50), f(4, 200), f(5, 10)]  # day 3 has no file, day 4 is oversized
    chunks = landing.day_chunks(files, date(2024, 3, 1), date(2024, 3, 7), max_bytes=100)
    assert [(a.day, b.day, [x.path for x in fs]) for a, b, fs in chunks] == [
        (1, 2, ["/l/1/b.ndjson", "/l/1/b.ndjson"]),  # 70 + 50 would pass 100
        (2, 4, ["/l/2/b.ndjson"]),  # the empty day 3 rides along: its old rows are replaced too
        (4, 5, ["/l/4/b.ndjson"]),  # a day larger than the limit is never split
        (5, 7, ["/l/5/b.ndjson"]),
    ]
    assert landing.day_chunks([], date(2024, 3, 1), date(2024, 3, 3), 100) == [(date(2024, 3, 1), date(2024, 3, 3), [])]


HEADER = '"InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice","CustomerID","Country"\n'


def test_raw_orders_reads_only_the_exports_a_run_needs(landing_dir, resources, query, monkeypatch):
    orders = landing_dir / "orders"
    orders.mkdir()
    (orders / "day1.csv").write_text(HEADER + '"1","A","a","1","2010-12-01 09:00:00","1.5","7","UK"\n')
    (orders / "day2.csv").write_text(HEADER + '"2","B","b","2","2010-12-02 09:00:00","2.5","8","UK"\n')
    read = []
    real_read = order_exports.read_order_export
    monkeypatch.setattr(order_exports, "read_order_export", lambda path: read.append(path.name) or real_read(path))

    assert materialize_range([raw_orders], resources, "2010-12-01", "2010-12-01").success
    assert sorted(read) == ["day1.csv", "day2.csv"]  # nothing known yet: both read, their days recorded
    read.clear()
    result = materialize_range([raw_orders], resources, "2010-12-02", "2010-12-02")
    assert read == ["day2.csv"]  # day1.csv is unchanged and holds no line of 2010-12-02
    assert result.asset_materializations_for_node("raw_orders")[0].metadata["exports_skipped"].value == 1
    # a late correction appended to day1.csv for 2010-12-02: the changed file is read again
    with open(orders / "day1.csv", "a") as handle:
        handle.write('"3","C","c","3","2010-12-02 10:00:00","3.5","7","UK"\n')
    read.clear()
    assert materialize_range([raw_orders], resources, "2010-12-02", "2010-12-02").success
    assert sorted(read) == ["day1.csv", "day2.csv"]
    assert query("SELECT partition_date, invoice_no FROM raw_orders ORDER BY invoice_no") == [
        (date(2010, 12, 1), "1"), (date(2010, 12, 2), "2"), (date(2010, 12, 2), "3"),
    ]
    assert query("SELECT source_file LIKE '%day1.csv', first_day, last_day, line_count FROM order_export_files ORDER BY 1") == [
        (False, date(2010, 12, 2), date(2010, 12, 2), 1), (True, date(2010, 12, 1), date(2010, 12, 2), 2),
    ]


def test_raw_events_migrates_a_warehouse_of_the_verbatim_layout(landing_dir, resources, warehouse, query):
    """A warehouse from before the file registry held one raw_events row per line: the first run
    after the upgrade registers the landing files of every day it held, so old days still clean."""
    _write_mixed_landing(landing_dir)
    day2 = landing_dir / "events" / "2024-03-06"
    day2.mkdir(parents=True)
    (day2 / "batch-0001.ndjson").write_text('{"a": 5}\n')
    with warehouse.connect() as con:
        con.execute("CREATE TABLE raw_events (partition_date DATE, source_file VARCHAR, line_number INTEGER, "
                    "raw_line VARCHAR, encoding_error BOOLEAN)")
        con.execute("INSERT INTO raw_events VALUES ('2024-03-05', 'x', 1, '{}', false)")
    result = materialize_range([raw_events], resources, "2024-03-06", "2024-03-06")
    assert result.success
    assert query("SELECT partition_date, count(*), sum(line_count) FROM raw_events GROUP BY 1 ORDER BY 1") == [
        (date(2024, 3, 5), 7, 8), (date(2024, 3, 6), 1, 1),  # notes.txt registered as one record
    ]
    assert materialize_range([clean_events], resources, "2024-03-05", "2024-03-06").success


def test_batch_files_are_read_whatever_the_case_of_their_extension(landing_dir, resources, query):
    """`.NDJSON` and `.json` files in a batch folder were neither read nor quarantined, so the
    reconciliation could not see them: every event file is read and counted, whatever its case."""
    from shopverse_platform.lib.simulator.traffic import simulate

    simulate(landing_dir, users=40, days=1, start=date(2024, 3, 5), seed=2, faults=0.0, progress=False)
    day = landing_dir / "events" / "2024-03-05"
    batches = sorted(day.iterdir())
    assert len(batches) >= 1
    lines = [line for path in batches for line in path.read_text().splitlines() if line.strip()]
    events = {json.loads(line)["event_id"] for line in lines}
    # The same events under other names: one file split in four, each with another extension.
    everything = "\n".join(lines) + "\n"
    for path in batches:
        path.unlink()
    quarter = len(lines) // 4
    chunks = ["\n".join(lines[i * quarter:(i + 1) * quarter if i < 3 else None]) + "\n" for i in range(4)]
    (day / "a.NDJSON").write_text(chunks[0])
    (day / "b.json").write_text(chunks[1])
    (day / "c.Jsonl").write_text(chunks[2])
    (day / "d.NDJSON.GZ").write_bytes(gzip.compress(chunks[3].encode()))
    assert "".join(chunks) == everything

    result = materialize_range([raw_events, clean_events], resources, "2024-03-05", "2024-03-05")
    assert result.success  # the blocking reconciliation raw = clean + quarantined + duplicates holds
    assert sorted(r[0].split("/")[-1] for r in query("SELECT source_file FROM raw_events")) == [
        "a.NDJSON", "b.json", "c.Jsonl", "d.NDJSON.GZ"]
    assert query("SELECT sum(line_count) FROM raw_events")[0][0] == len(lines)
    assert {r[0] for r in query("SELECT event_id FROM clean_events")} == events
