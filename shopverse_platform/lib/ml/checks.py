"""Checks of a training set, as plain functions returning (passed, metadata): run by the
training-set asset, and consulted by the registry gate through the model asset."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from shopverse_platform.lib.ml.specs import ModelSpec
from shopverse_platform.lib.warehouse.sql import load_sql, table
from shopverse_platform.lib.warehouse.tables import rows_failing, unique_key

Outcome = tuple[bool, dict[str, object]]
MIN_ROWS = 50
MIN_PER_CLASS = 10

CHECKS: dict[str, str] = {
    "point_in_time": "Every row's entity was first and last seen before its cutoff: no feature uses data from the "
                     "label window, no entity first seen in it is included.",
    "splits_ordered": "One cutoff per split, and the validation cutoff is no earlier than the end of the training labels.",
    "enough_rows_and_labels": f"Each split has at least the configured rows (default {MIN_ROWS}); classifiers have at "
                              f"least {MIN_PER_CLASS} of each class, regressors a non-negative label that is not all zero.",
    "entity_unique": "One row per split and entity.",
    "features_complete": "No missing or infinite feature value.",
}


def point_in_time(con, spec: ModelSpec) -> Outcome:
    late = con.execute(load_sql(__file__, "check_point_in_time", training_set=table(spec.training_set))).fetchone()
    return late == (0, 0, 0), {"seen_on_or_after_cutoff": late[0], "first_seen_in_label_window": late[1], "unknown_dates": late[2]}


def splits_ordered(con, spec: ModelSpec) -> Outcome:
    rows = {split: (cutoffs, first, last_end) for split, cutoffs, first, last_end in con.execute(
        load_sql(__file__, "check_splits", training_set=table(spec.training_set))).fetchall()}
    if set(rows) != {"train", "validation"}:
        return False, {"splits_present": sorted(rows)}
    ordered = rows["validation"][1] >= rows["train"][2]
    single = rows["train"][0] == 1 and rows["validation"][0] == 1
    return ordered and single, {"training_cutoff": str(rows["train"][1]), "training_label_end": str(rows["train"][2]),
                                "validation_cutoff": str(rows["validation"][1]), "validation_label_end": str(rows["validation"][2])}


def enough_rows_and_labels(con, spec: ModelSpec, min_rows: int = MIN_ROWS) -> Outcome:
    stats = {split: {"rows": n, "positives": int(pos or 0), "label_sum": float(total or 0), "negative_labels": neg}
             for split, n, pos, total, neg in con.execute(
                 load_sql(__file__, "check_labels", training_set=table(spec.training_set))).fetchall()}
    passed = set(stats) == {"train", "validation"}
    for s in stats.values():
        passed &= s["rows"] >= min_rows and s["negative_labels"] == 0
        if spec.kind == "classifier":
            passed &= min(s["positives"], s["rows"] - s["positives"]) >= MIN_PER_CLASS
        else:
            passed &= s["label_sum"] > 0
    return passed, {"min_rows": min_rows, "splits": stats}


def entity_unique(con, spec: ModelSpec) -> Outcome:
    return unique_key(con, spec.training_set, "split, entity_id")


def features_complete(con, spec: ModelSpec) -> Outcome:
    bad = rows_failing(con, spec.training_set, {f: f"{f} IS NULL OR isnan({f}) OR isinf({f})" for f in spec.features})
    return not bad, {"missing_or_infinite": bad}


def run_checks(con: duckdb.DuckDBPyConnection, spec: ModelSpec, min_rows: int = MIN_ROWS) -> dict[str, Outcome]:
    runners: dict[str, Callable[[], Outcome]] = {
        "point_in_time": lambda: point_in_time(con, spec),
        "splits_ordered": lambda: splits_ordered(con, spec),
        "enough_rows_and_labels": lambda: enough_rows_and_labels(con, spec, min_rows),
        "entity_unique": lambda: entity_unique(con, spec),
        "features_complete": lambda: features_complete(con, spec),
    }
    return {name: run() for name, run in runners.items()}
