"""A shop with visitors but no orders yet: the daily job must still succeed end to end.

Regression: segmentation failed with an untyped NULL "as of" day and on DuckDB 2.0's
unfinished-result rule when there was nothing to segment.
"""

from __future__ import annotations

import json
from datetime import date

import dagster as dg

from shopverse_platform.cli.backfill import run_range
from shopverse_platform.definitions import defs


def test_daily_job_succeeds_on_a_day_without_orders(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPVERSE_DATA_DIR", str(tmp_path / "data"))
    day = date(2024, 3, 5)
    batch = tmp_path / "data" / "landing" / "events" / day.isoformat() / "batch-0001.ndjson"
    batch.parent.mkdir(parents=True)
    batch.write_text("\n".join(
        json.dumps({"event_id": f"e{n}", "event_name": "page_view", "event_time": f"2024-03-05T10:0{n}:00Z",
                    "anonymous_id": f"dev-{n % 2}", "user_id": "u1" if n == 0 else None, "page": "/"})
        for n in range(4)
    ) + "\n")
    with dg.instance_for_test() as instance:
        stage, result = run_range(defs(), instance, "daily_job", day, day, "test")
    failures = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert stage.success, failures
    import duckdb

    con = duckdb.connect(str(tmp_path / "data" / "warehouse" / "shopverse.duckdb"), read_only=True)
    counts = con.execute("SELECT (SELECT count(*) FROM clean_events), (SELECT count(*) FROM orders), "
                         "(SELECT count(*) FROM value_tiers), (SELECT count(*) FROM rfm_segments)").fetchall()[0]
    assert counts == (4, 0, 0, 0)  # events cleaned; no order, so no tier or segment is invented
