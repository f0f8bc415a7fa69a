"""Checks of the segmentation tables: each returns (passed, metadata) re-derived from the tables
or the facts, so a test can tamper with a table and watch the check fail."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from shopverse_platform.lib.segmentation.intent import INTENT_LEVELS
from shopverse_platform.lib.segmentation.rfm import RFM_SEGMENTS, VALUE_TIERS
from shopverse_platform.lib.warehouse.tables import table_exists, unique_key  # noqa: F401  (re-exported: checks.unique_key)

Outcome = tuple[bool, dict[str, object]]


def _f(value) -> float | None:
    return float(value) if isinstance(value, Decimal) else value


def tiers_ordered_by_revenue(con: duckdb.DuckDBPyConnection) -> Outcome:
    """Every customer of a higher tier has at least the revenue of every customer of a lower one."""
    rows = con.execute(
        "SELECT tier_rank, value_tier, min(net_revenue), max(net_revenue), count(*) FROM value_tiers GROUP BY ALL ORDER BY tier_rank"
    ).fetchall()
    overlaps = [f"{hi[1]} min {_f(hi[2])} < {lo[1]} max {_f(lo[3])}" for hi, lo in zip(rows, rows[1:]) if hi[2] < lo[3]]
    unknown = [r[1] for r in rows if r[1] not in {name for name, _ in VALUE_TIERS}]
    return not overlaps and not unknown, {
        "customers_by_tier": {r[1]: r[4] for r in rows}, "overlaps": overlaps, "unknown_tiers": unknown}


def tiers_match_customer_metrics(con: duckdb.DuckDBPyConnection, filtered: bool) -> Outcome:
    """At customer_metrics' as-of day, every customer's net revenue equals customer_metrics'."""
    if filtered or not table_exists(con, "customer_metrics"):
        return True, {"skipped": "order_source filter set" if filtered else "customer_metrics not built"}
    same_day = con.execute(
        "SELECT (SELECT max(as_of_date) FROM value_tiers) = (SELECT max(as_of_date) FROM customer_metrics)").fetchone()[0]
    if not same_day:
        return True, {"skipped": "value_tiers built as of another day than customer_metrics"}
    mismatched, only_one_side = con.execute(
        """SELECT count(*) FILTER (WHERE v.customer_id IS NOT NULL AND c.customer_id IS NOT NULL AND v.net_revenue <> c.net_revenue),
                  count(*) FILTER (WHERE v.customer_id IS NULL OR c.customer_id IS NULL)
           FROM value_tiers v FULL OUTER JOIN customer_metrics c USING (customer_id)"""
    ).fetchone()
    return mismatched == 0 and only_one_side == 0, {"revenue_mismatches": mismatched, "customers_on_one_side_only": only_one_side}


def rfm_scores_valid(con: duckdb.DuckDBPyConnection) -> Outcome:
    bad_scores, bad_names = con.execute(
        f"""SELECT count(*) FILTER (WHERE NOT (r_score BETWEEN 1 AND 5 AND f_score BETWEEN 1 AND 5 AND m_score BETWEEN 1 AND 5)),
                   count(*) FILTER (WHERE rfm_segment IS NULL OR rfm_segment NOT IN ({", ".join("'" + s.replace("'", "''") + "'" for s in RFM_SEGMENTS)}))
            FROM rfm_segments"""
    ).fetchone()
    by_segment = dict(con.execute("SELECT rfm_segment, count(*) FROM rfm_segments GROUP BY 1 ORDER BY 2 DESC").fetchall())
    return bad_scores == 0 and bad_names == 0, {"scores_out_of_range": bad_scores, "unnamed": bad_names, "customers_by_segment": by_segment}


def clusters_labelled(con: duckdb.DuckDBPyConnection, k_min: int, k_max: int) -> Outcome:
    k, labels, unlabeled = con.execute(
        "SELECT count(DISTINCT cluster), count(DISTINCT cluster_label), count(*) FILTER (WHERE cluster_label IS NULL) FROM behaviour_clusters"
    ).fetchone()
    total = con.execute("SELECT count(*) FROM behaviour_clusters").fetchone()[0]
    if total == 0:
        return True, {"skipped": "no customers to cluster"}
    passed = k_min <= k <= k_max and labels == k and unlabeled == 0
    return passed, {"k": k, "k_range": [k_min, k_max], "distinct_labels": labels, "unlabelled_rows": unlabeled}


def intent_levels_valid(con: duckdb.DuckDBPyConnection) -> Outcome:
    levels = ", ".join(f"'{level}'" for level in INTENT_LEVELS)
    bad = con.execute(f"SELECT count(*) FROM intent_segments WHERE intent_segment IS NULL OR intent_segment NOT IN ({levels})").fetchone()[0]
    by_level = dict(con.execute("SELECT intent_segment, count(*) FROM intent_segments GROUP BY 1").fetchall())
    return bad == 0, {"invalid_rows": bad, "visitors_by_level": by_level}


def movements_conserve_entities(con: duckdb.DuckDBPyConnection, weeks: list) -> Outcome:
    """For every week and segmentation: the movements' 'to' side counts exactly the week's
    snapshot, and the 'from' side exactly the previous week's (stored or as recomputed)."""
    wrong = []
    for week in weeks:
        rows = con.execute(
            """SELECT segmentation, sum(entities) FILTER (WHERE to_segment <> '(left)'),
                      sum(entities) FILTER (WHERE from_segment <> '(new)')
               FROM segment_movements WHERE week_start = ? GROUP BY 1""", [week]).fetchall()
        snapshot = dict(con.execute(
            "SELECT segmentation, count(*) FROM segment_snapshots WHERE week_start = ? GROUP BY 1", [week]).fetchall())
        for segmentation, to_side, _ in rows:
            if (to_side or 0) != snapshot.get(segmentation, 0):
                wrong.append(f"{week} {segmentation}: to-side {to_side} vs snapshot {snapshot.get(segmentation, 0)}")
        if set(snapshot) - {r[0] for r in rows}:
            wrong.append(f"{week}: segmentations without movements {sorted(set(snapshot) - {r[0] for r in rows})}")
    return not wrong, {"weeks": [str(w) for w in weeks], "mismatches": wrong[:20]}
