"""Checks of the segmentation tables: each returns (passed, metadata) re-derived from the tables
or the facts, so a test can tamper with a table and watch the check fail."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from shopverse_platform.lib.segmentation.intent import INTENT_LEVELS
from shopverse_platform.lib.segmentation.movements import ENTERED, LEFT, weeks_in
from shopverse_platform.lib.segmentation.rfm import RFM_SEGMENTS, VALUE_TIERS
from shopverse_platform.lib.warehouse.sql import load_sql
from shopverse_platform.lib.warehouse.tables import table_exists, unique_key  # noqa: F401  (re-exported: checks.unique_key)

Outcome = tuple[bool, dict[str, object]]


def _f(value) -> float | None:
    return float(value) if isinstance(value, Decimal) else value


def tiers_ordered_by_revenue(con: duckdb.DuckDBPyConnection) -> Outcome:
    """Every customer of a higher tier has at least the revenue of every customer of a lower one."""
    rows = con.execute(load_sql(__file__, "check_tiers_by_rank")).fetchall()
    overlaps = [f"{hi[1]} min {_f(hi[2])} < {lo[1]} max {_f(lo[3])}" for hi, lo in zip(rows, rows[1:]) if hi[2] < lo[3]]
    unknown = [r[1] for r in rows if r[1] not in {name for name, _ in VALUE_TIERS}]
    return not overlaps and not unknown, {
        "customers_by_tier": {r[1]: r[4] for r in rows}, "overlaps": overlaps, "unknown_tiers": unknown}


def tiers_match_customer_metrics(con: duckdb.DuckDBPyConnection, filtered: bool) -> Outcome:
    """At customer_metrics' as-of day, every customer's net revenue equals customer_metrics'."""
    if filtered or not table_exists(con, "customer_metrics"):
        return True, {"skipped": "order_source filter set" if filtered else "customer_metrics not built"}
    same_day = con.execute(load_sql(__file__, "check_tiers_same_day")).fetchone()[0]
    if not same_day:
        return True, {"skipped": "value_tiers built as of another day than customer_metrics"}
    mismatched, only_one_side = con.execute(load_sql(__file__, "check_tiers_vs_customer_metrics")).fetchone()
    return mismatched == 0 and only_one_side == 0, {"revenue_mismatches": mismatched, "customers_on_one_side_only": only_one_side}


def rfm_scores_valid(con: duckdb.DuckDBPyConnection) -> Outcome:
    bad_scores, bad_names = con.execute(load_sql(__file__, "check_rfm_scores"), {"segments": list(RFM_SEGMENTS)}).fetchone()
    by_segment = dict(con.execute(load_sql(__file__, "check_rfm_sizes")).fetchall())
    return bad_scores == 0 and bad_names == 0, {"scores_out_of_range": bad_scores, "unnamed": bad_names, "customers_by_segment": by_segment}


def clusters_labelled(con: duckdb.DuckDBPyConnection, k_min: int, k_max: int) -> Outcome:
    k, labels, unlabeled, total = con.execute(load_sql(__file__, "check_cluster_labels")).fetchone()
    if total == 0:
        return True, {"skipped": "no customers to cluster"}
    passed = k_min <= k <= k_max and labels == k and unlabeled == 0
    return passed, {"k": k, "k_range": [k_min, k_max], "distinct_labels": labels, "unlabelled_rows": unlabeled}


def intent_levels_valid(con: duckdb.DuckDBPyConnection) -> Outcome:
    bad = con.execute(load_sql(__file__, "check_intent_levels"), {"levels": list(INTENT_LEVELS)}).fetchone()[0]
    by_level = dict(con.execute(load_sql(__file__, "check_intent_sizes")).fetchall())
    return bad == 0, {"invalid_rows": bad, "visitors_by_level": by_level}


def movements_conserve_entities(con: duckdb.DuckDBPyConnection, start: date, end: date) -> Outcome:
    """For every week starting in [start, end) and segmentation: the movements' 'to' side counts
    exactly the week's snapshot, and the 'from' side exactly the previous week's (stored or as
    recomputed)."""
    params = {"start": start, "end": end}
    sides = con.execute(load_sql(__file__, "check_movement_sides"), {**params, "entered": ENTERED, "left": LEFT}).fetchall()
    snapshot = {(week, segmentation): n for week, segmentation, n in
                con.execute(load_sql(__file__, "check_snapshot_sizes"), params).fetchall()}
    to_side = {(week, segmentation): to for week, segmentation, to, _ in sides}
    wrong = [f"{week} {segmentation}: to-side {to_side.get((week, segmentation)) or 0} vs snapshot {snapshot.get((week, segmentation), 0)}"
             for week, segmentation in sorted(snapshot.keys() | to_side.keys())
             if (to_side.get((week, segmentation)) or 0) != snapshot.get((week, segmentation), 0)]
    return not wrong, {"weeks": [str(w) for w in weeks_in(start, end)], "mismatches": wrong[:20]}
