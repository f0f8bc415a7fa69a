"""Anomaly evaluation: the precision/recall arithmetic by hand, then a small simulation end to end."""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import pytest

from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.metrics.anomalies import AnomalyThresholds, anomalies_params, anomalies_sql
from shopverse_platform.lib.metrics.ground_truth import evaluate
from shopverse_platform.lib.simulator.traffic import simulate
from shopverse_platform_tests.conftest import materialize_range
from shopverse_platform_tests.metrics.conftest import METRICS, UPSTREAM

TRUTH = {
    "traffic_spike": {"date": "2026-03-10", "hour_start_utc": 18, "hour_end_utc": 20},
    "large_orders": [{"transaction_id": "ORD-1"}, {"transaction_id": "ORD-2"}],
    "bots": {"session_ids": ["s-bot-1", "s-bot-2", "s-bot-3"]},
}
DETECTED = [  # (anomaly_type, entity_id, source)
    ("traffic_spike", "2026-03-10 18:00", "events"),  # TP
    ("traffic_spike", "2026-03-10 21:00", "events"),  # FP: after the spike
    ("unusual_order", "ORD-1", "events"),  # TP (ORD-2 missed)
    ("unusual_order", "581483", "order_export"),  # another source: not the simulator's business
    ("bot", "s-bot-1", "events"), ("bot", "s-bot-2", "events"),  # TP, TP
    ("hyperactive_session", "s-human", "events"),  # FP (s-bot-3 missed)
    ("revenue_drop", "2026-03-12", None),  # FP: no revenue drop injected
]


def test_evaluate_counts_precision_and_recall_per_kind(tmp_path):
    truth_file = tmp_path / "anomalies.json"
    truth_file.write_text(json.dumps(TRUTH))
    con = duckdb.connect()
    con.execute("CREATE TABLE anomalies (anomaly_type VARCHAR, entity_id VARCHAR, source VARCHAR)")
    con.executemany("INSERT INTO anomalies VALUES (?, ?, ?)", DETECTED)
    report = evaluate(con, truth_file)
    assert {k: (v["true_positives"], v["false_positives"], v["false_negatives"]) for k, v in report.items()} == {
        "traffic": (1, 1, 1), "orders": (1, 0, 1), "bots": (2, 1, 1), "revenue": (0, 1, 0), "overall": (4, 3, 3)}
    assert report["bots"]["precision"] == pytest.approx(2 / 3) and report["bots"]["recall"] == pytest.approx(2 / 3)
    assert report["overall"]["precision"] == pytest.approx(4 / 7) and report["overall"]["recall"] == pytest.approx(4 / 7)
    assert report["revenue"]["recall"] is None  # nothing to find


def test_simulated_anomalies_are_found_without_false_alarms(tmp_path):
    start, days = date(2026, 3, 2), 22  # three weeks either side give every hour a seasonal baseline
    summary = simulate(tmp_path / "landing", users=1500, days=days, start=start, seed=7)
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=str(tmp_path / "landing"))}
    result = materialize_range(UPSTREAM + METRICS, resources, str(start), str(start + timedelta(days=days - 1)))
    assert result.success
    with warehouse.connect(read_only=True) as con:
        report = evaluate(con, summary.ground_truth_path)
        # the table was read from the running aggregates kept beside sessions; judged again from
        # every session, the same rows
        kept = con.execute("SELECT * FROM anomalies ORDER BY ALL").fetchall()
        from_every_session = con.execute(f"SELECT * FROM ({anomalies_sql(con, from_sessions=True)}) ORDER BY ALL",
                                         anomalies_params(AnomalyThresholds())).fetchall()
        busy, every = con.execute("SELECT (SELECT count(*) FROM busy_sessions), (SELECT count(*) FROM sessions)").fetchone()
    assert report["bots"]["recall"] == 1.0 and report["orders"]["recall"] == 1.0
    assert report["traffic"]["true_positives"] >= 1
    assert report["overall"]["precision"] == 1.0
    assert kept == from_every_session
    assert {row[1] for row in kept} >= {"traffic_spike", "unusual_order", "bot"} and 0 < busy < every
