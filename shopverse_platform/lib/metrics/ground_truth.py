"""Precision and recall of the ``anomalies`` table against the simulator's ground truth.

The simulator writes ``ground_truth/anomalies.json``: one traffic spike (a UTC date and an hour
range), the very large orders (transaction ids) and the bots (session ids). Each kind is compared
as sets: traffic by (UTC hour), orders by transaction id, bots by session id. The simulator injects
no traffic drop and no revenue drop, so any of those counts as a false positive of its kind.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from shopverse_platform.lib.warehouse.sql import load_sql

KINDS = {
    "traffic": ("traffic_spike", "traffic_drop"),
    "orders": ("unusual_order",),
    "bots": ("bot", "hyperactive_session"),
    "revenue": ("revenue_drop",),
}


def truth_sets(truth: dict) -> dict[str, set[str]]:
    spike = truth.get("traffic_spike") or {}
    hours: set[str] = set()
    if spike:
        day = date.fromisoformat(spike["date"])
        for hour in range(int(spike["hour_start_utc"]), int(spike["hour_end_utc"])):
            hours.add((datetime(day.year, day.month, day.day) + timedelta(hours=hour)).strftime("%Y-%m-%d %H:00"))
    return {
        "traffic": hours,
        "orders": {o["transaction_id"] for o in truth.get("large_orders", [])},
        "bots": {s for s in truth.get("bots", {}).get("session_ids", []) if s},
        "revenue": set(),
    }


def detected_sets(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for kind, types in KINDS.items():
        rows = con.execute(load_sql(__file__, "detected_anomalies"), {"anomaly_types": list(types)}).fetchall()
        found[kind] = {r[0] for r in rows}
    return found


def _scores(truth: set[str], detected: set[str]) -> dict[str, object]:
    tp = len(truth & detected)
    return {
        "truth": len(truth), "detected": len(detected), "true_positives": tp,
        "false_positives": len(detected - truth), "false_negatives": len(truth - detected),
        "precision": tp / len(detected) if detected else None,
        "recall": tp / len(truth) if truth else None,
    }


def evaluate(con: duckdb.DuckDBPyConnection, truth_file: Path) -> dict[str, dict[str, object]]:
    """Per kind and overall (micro-averaged): truth, detected, TP/FP/FN, precision, recall."""
    truth = truth_sets(json.loads(Path(truth_file).read_text()))
    detected = detected_sets(con)
    report = {kind: _scores(truth[kind], detected[kind]) for kind in KINDS}
    report["overall"] = _scores(
        {f"{k}:{v}" for k, vs in truth.items() for v in vs}, {f"{k}:{v}" for k, vs in detected.items() for v in vs}
    )
    return report
