"""Ingestion: the landing layouts, and the real UCI Online Retail export loaded whole."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from shopverse_platform.defs.cleaning.assets import clean_order_lines
from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders
from shopverse_platform.defs.resources import LandingZone
from shopverse_platform_tests.conftest import materialize_range


def test_raw_events_reads_batches_gzip_and_one_file_per_event(landing_dir, resources, query):
    day = landing_dir / "events" / "2024-03-05"
    day.mkdir(parents=True)
    (day / "batch-0001.ndjson").write_text('{"a": 1}\n\n{"a": 2}\r\n')  # a blank line, a CRLF line
    (day / "batch-0002.ndjson.gz").write_bytes(gzip.compress(b'{"a": 3}\nnot json\n'))
    (day / "notes.txt").write_text("ignored: not a landing file")
    logs = landing_dir / "logs" / "20240305"
    logs.mkdir(parents=True)
    for n in range(3):
        (logs / f"evt-{n}.json").write_text(json.dumps({"a": 10 + n}, indent=2))
    result = materialize_range([raw_events], resources, "2024-03-05", "2024-03-05")
    assert result.success
    rows = query("SELECT source_file, line_number, raw_line FROM raw_events ORDER BY source_file, line_number")
    assert [(r[0].split("/")[-1], r[1], r[2]) for r in rows] == [
        ("batch-0001.ndjson", 1, '{"a": 1}'),
        ("batch-0001.ndjson", 3, '{"a": 2}'),
        ("batch-0002.ndjson.gz", 1, '{"a": 3}'),
        ("batch-0002.ndjson.gz", 2, "not json"),
        ("evt-0.json", 1, json.dumps({"a": 10}, indent=2)),
        ("evt-1.json", 1, json.dumps({"a": 11}, indent=2)),
        ("evt-2.json", 1, json.dumps({"a": 12}, indent=2)),
    ]
    materialization = result.asset_materializations_for_node("raw_events")[0]
    assert materialization.metadata["blank_lines_skipped"].value == 1
    assert materialization.metadata["files"].value == 5


@pytest.fixture(scope="module")
def online_retail_independent(online_retail_file) -> pd.DataFrame:
    """The real export read by pandas, a second method independent of the DuckDB pipeline."""
    return pd.read_csv(online_retail_file, dtype=str, keep_default_na=False)


def test_real_online_retail_loads_whole_and_reconciles(tmp_path, warehouse, online_retail_file, online_retail_independent, query):
    resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=str(tmp_path / "landing"), order_exports=str(online_retail_file))}
    result = materialize_range([raw_orders, clean_order_lines], resources, "2010-12-01", "2011-12-09")
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
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]
    assert checks[0].metadata["raw"].value == 541_909
