"""Segmentation: RFM, tiers and movements against a hand-worked table, intent by hand, and the
real Online Retail customers against a second (pandas) computation."""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from shopverse_platform.defs.segmentation.assets import (
    behaviour_clusters,
    behaviour_clusters_checks,
    intent_segments,
    intent_segments_checks,
    rfm_segments,
    rfm_segments_checks,
    value_tiers,
    value_tiers_checks,
)
from shopverse_platform.defs.segmentation.snapshots import (
    segment_movements,
    segment_snapshots,
    segment_snapshots_checks,
)
from shopverse_platform.lib.segmentation import checks
from shopverse_platform_tests.segmentation import fixture as fx


@pytest.fixture(scope="module")
def hand_segments(hand_orders):
    result = hand_orders.materialize([value_tiers, rfm_segments, value_tiers_checks, rfm_segments_checks])
    assert result.success
    return result


def test_rfm_segments_and_value_tiers_follow_the_hand_worked_table(hand_orders, hand_segments):
    rfm = {r[0]: r[1:] for r in hand_orders.query("SELECT customer_id, r_score, f_score, m_score, rfm_segment, as_of_date FROM rfm_segments")}
    tiers = dict(hand_orders.query("SELECT customer_id, value_tier FROM value_tiers"))
    assert {c: v[:4] for c, v in rfm.items()} == {c: e[:4] for c, e in fx.EXPECTED.items()}  # the guest is nobody
    assert tiers == {c: e[4] for c, e in fx.EXPECTED.items()}
    assert {v[4] for v in rfm.values()} == {fx.AS_OF}
    # the cancellation nets out: C06 bought 80 and returned 10
    assert hand_orders.query("SELECT net_revenue FROM value_tiers WHERE customer_id = 'C06'") == [(Decimal("70.00"),)]
    assert all(c.passed for c in hand_segments.get_asset_check_evaluations())


def test_value_tiers_checks_fail_on_a_tampered_table(hand_orders, hand_segments):
    con = hand_orders.warehouse
    with con.connect() as c:
        c.execute("UPDATE value_tiers SET value_tier = 'VIP', tier_rank = 1 WHERE customer_id = 'C04'")
        ordered, _ = checks.tiers_ordered_by_revenue(c)
        c.execute("UPDATE value_tiers SET net_revenue = net_revenue + 1 WHERE customer_id = 'C01'")
        matches, detail = checks.tiers_match_customer_metrics(c, filtered=False)
    assert not ordered and not matches and detail["revenue_mismatches"] == 1
    assert hand_orders.materialize([value_tiers]).success  # rebuilt clean for the other tests


def test_segment_movements_week_over_week_follow_the_hand_worked_moves(hand_orders):
    weeks = {"dagster/asset_partition_range_start": "2011-03-21", "dagster/asset_partition_range_end": "2011-03-28"}
    result = hand_orders.materialize([segment_snapshots, segment_movements, segment_snapshots_checks], tags=weeks)
    assert result.success and all(c.passed for c in result.get_asset_check_evaluations())
    snapshot = dict(hand_orders.query(
        "SELECT entity_id, segment FROM segment_snapshots WHERE week_start = '2011-03-28' AND segmentation = 'rfm_segment'"))
    assert snapshot == {c: e[3] for c, e in fx.EXPECTED.items()}  # as of Sunday 04-03: same ranks as 03-31
    before = dict(hand_orders.query(
        "SELECT entity_id, segment FROM segment_snapshots WHERE week_start = '2011-03-21' AND segmentation = 'rfm_segment'"))
    assert "C04" not in before and before["C01"] == "At Risk"

    def moves(segmentation: str) -> dict:
        return {(f, t): (n, ids, value) for f, t, n, ids, value in hand_orders.query(
            "SELECT from_segment, to_segment, entities, entity_ids, value_change FROM segment_movements "
            "WHERE week_start = '2011-03-28' AND segmentation = ? AND moved", [segmentation])}

    rfm, tiers = moves("rfm_segment"), moves("value_tier")
    assert rfm[("At Risk", "Champions")][1] == ["C01"]
    assert rfm[("(new)", "New Customers")][:2] == (1, ["C04"])
    assert tiers[("Medium", "High")] == (1, ["C01"], Decimal("30.00"))
    assert tiers[("(new)", "Low")][:2] == (1, ["C04"])
    # nobody leaves a customer segmentation; the counts of the week add up to its snapshot
    assert not [k for k in list(rfm) + list(tiers) if k[1] == "(left)"]
    assert hand_orders.query("SELECT sum(entities) FROM segment_movements WHERE week_start = '2011-03-28' AND segmentation = 'rfm_segment'") == [(11,)]


def test_intent_segments_classify_recent_visitors_by_hand(hand_events):
    config = {"ops": {"intent_segments": {"config": {"as_of_date": str(fx.INTENT_AS_OF)}}}}
    result = hand_events.materialize([intent_segments, intent_segments_checks], run_config=config)
    assert result.success and all(c.passed for c in result.get_asset_check_evaluations())
    assert dict(hand_events.query("SELECT visitor_id, intent_segment FROM intent_segments")) == fx.EXPECTED_INTENT
    # device d-h logged in as u-a: its anonymous visit counts for u-a (3 sessions on 2 devices)
    assert hand_events.query("SELECT recent_sessions, is_identified FROM intent_segments WHERE visitor_id = 'u-a'") == [(3, True)]


# ------------------------------------------------------------------------------------ real data
GRID = """
R\\FM 1                 2                    3                    4                 5
5    New Customers     Potential Loyalists  Potential Loyalists  Champions         Champions
4    Promising         Potential Loyalists  Potential Loyalists  Loyal Customers   Champions
3    Need Attention    Need Attention       Need Attention       Loyal Customers   Loyal Customers
2    Hibernating       Hibernating          At Risk              At Risk           Can't Lose Them
1    Lost              Lost                 At Risk              At Risk           Can't Lose Them
"""


def _grid() -> dict[tuple[int, int], str]:
    """The documented grid (docs/models.md), parsed from its text form."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in GRID.strip().splitlines()[1:]]
    return {(int(row[0]), fm): name for row in rows for fm, name in enumerate(row[1:], start=1)}


def _score(values: pd.Series) -> pd.Series:
    percent = (values.rank(method="min") - 1) / (len(values) - 1)
    return np.minimum(5, 1 + np.floor(5 * percent)).astype(int)


@pytest.mark.slow
def test_real_customers_tiers_and_rfm_match_a_pandas_computation(retail):
    result = retail.materialize([value_tiers, rfm_segments, value_tiers_checks, rfm_segments_checks])
    assert result.success and all(c.passed for c in result.get_asset_check_evaluations())
    metrics = retail.frame("SELECT customer_id, orders, net_revenue, recency_days FROM customer_metrics")
    metrics["net_revenue"] = metrics.net_revenue.astype(float)
    percent = (metrics.net_revenue.rank(method="min") - 1) / (len(metrics) - 1)
    expected_tiers = pd.Series(np.select([percent >= 0.95, percent >= 0.67, percent >= 0.33], ["VIP", "High", "Medium"], "Low"),
                               index=metrics.customer_id)
    tiers = retail.frame("SELECT customer_id, value_tier FROM value_tiers").set_index("customer_id").value_tier
    assert len(tiers) == len(metrics) == 4371
    assert (tiers.sort_index() == expected_tiers.sort_index()).all()
    buyers = metrics[metrics.orders > 0].copy()  # 34 customers only ever returned goods
    buyers["r"] = _score(-buyers.recency_days)
    buyers["f"], buyers["m"] = _score(buyers.orders), _score(buyers.net_revenue)
    grid = _grid()
    buyers["segment"] = [grid[(r, int(np.ceil((f + m) / 2)))] for r, f, m in zip(buyers.r, buyers.f, buyers.m)]
    rfm = retail.frame("SELECT customer_id, r_score AS r, f_score AS f, m_score AS m, rfm_segment AS segment FROM rfm_segments")
    merged = buyers.merge(rfm, on="customer_id", suffixes=("", "_platform"))
    assert len(merged) == len(buyers) == len(rfm)
    for column in ("r", "f", "m", "segment"):
        assert (merged[column] == merged[f"{column}_platform"]).all(), column
    assert set(rfm.segment) == set(grid.values())  # all ten segments occur on the real customers


@pytest.mark.slow
def test_real_customers_behaviour_clusters_are_chosen_by_silhouette_and_profiled(retail):
    from sklearn.metrics import silhouette_score

    result = retail.materialize([behaviour_clusters, behaviour_clusters_checks])
    assert result.success and all(c.passed for c in result.get_asset_check_evaluations())
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    by_k = {int(k): v for k, v in metadata["silhouette_by_k"].value.items()}
    assert sorted(by_k) == list(range(3, 9)) and metadata["k"].value == max(by_k, key=by_k.get)
    table = retail.frame("SELECT * FROM behaviour_clusters")
    assert table.cluster.nunique() == metadata["k"].value and len(table) == 4337
    # the silhouette of the stored assignment, recomputed on every customer with our own scaling
    features = metadata["features"].value
    x = table[features].astype(float).to_numpy()
    x = np.sign(x) * np.log1p(np.abs(x))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    assert silhouette_score(x, table.cluster) == pytest.approx(by_k[metadata["k"].value], abs=0.03)
    profiles = retail.frame("SELECT * FROM behaviour_cluster_profiles ORDER BY cluster")
    assert profiles.customers.sum() == len(table) and profiles.cluster_label.is_unique
    medians = table.groupby("cluster").net_revenue.median()
    assert np.allclose(profiles.median_net_revenue, medians.loc[profiles.cluster])
    for label in profiles.cluster_label:
        assert re.match(r"^(High|Mid|Low)-value (frequent|occasional|one-time) buyers, (active|cooling|lapsed)", label)
    top = profiles.loc[profiles.median_net_revenue.idxmax(), "cluster_label"]
    bottom = profiles.loc[profiles.median_net_revenue.idxmin(), "cluster_label"]
    assert top.startswith("High-value") and bottom.startswith("Low-value")


def test_segment_tables_carry_the_column_lineage_of_the_sql_that_built_them(hand_segments):
    """value_tiers and rfm_segments hand the SQL they really ran to lineage, as the metric tables do."""
    def deps(asset: str) -> dict[str, set[tuple[str, str]]]:
        metadata = hand_segments.asset_materializations_for_node(asset)[-1].metadata
        assert "lineage/column_lineage_error" not in metadata
        return {column: {(d.asset_key.to_user_string(), d.column_name) for d in found}
                for column, found in metadata["dagster/column_lineage"].value.deps_by_column.items()}

    tiers, rfm = deps("value_tiers"), deps("rfm_segments")
    # read off lib/segmentation/customer_state.sql: revenue is summed from the orders' net amounts
    assert ("orders", "net_amount") in tiers["net_revenue"]
    assert ("orders", "customer_id") in tiers["customer_id"]
    assert ("orders", "customer_id") in rfm["customer_id"]
