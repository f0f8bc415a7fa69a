"""Segmentation: RFM, tiers and movements against a hand-worked table, intent by hand, and the
real Online Retail customers against a second (pandas) computation."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from shopverse_platform.defs.segmentation.assets import (
    behaviour_cluster_model,
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
from shopverse_platform.lib.cleaning.dimensions import update_visitor_observations
from shopverse_platform.lib.segmentation import checks, movements
from shopverse_platform.lib.segmentation.clusters import EVENT_FEATURES, ORDER_FEATURES, cluster_customers
from shopverse_platform_tests.ml.conftest import with_mlflow
from shopverse_platform_tests.ml.warehouses import hand_orders_warehouse, mlflow_store
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


def test_a_snapshot_reads_the_event_tables_only_once_the_shop_has_sent_events(hand_orders, hand_events):
    """An orders-only shop has no visitor to put in an intent segment: its weekly snapshot's query
    reads no event table. A shop with events gets every recent visitor's intent segment in it, as
    the daily intent segments give them (the hand-worked table: nothing happens between that day
    and the Sunday, and nothing leaves the 28 days)."""
    week = movements.week_params(fx.INTENT_AS_OF - timedelta(days=fx.INTENT_AS_OF.weekday()))
    with hand_orders.warehouse.connect() as con:
        update_visitor_observations(con)
        sql = movements.snapshot_sql(con, None, 28)
        assert "visitor_observations" not in sql and "purchase_observations" not in sql
        assert {row[0] for row in con.execute(f"SELECT DISTINCT segmentation FROM ({sql})", week).fetchall()} \
            == {"value_tier", "rfm_segment"}
    with hand_events.warehouse.connect() as con:
        update_visitor_observations(con)
        sql = movements.snapshot_sql(con, None, 28)
        assert "visitor_observations" in sql
        intent = con.execute(f"SELECT entity_id, segment FROM ({sql}) WHERE segmentation = 'intent_segment'", week).fetchall()
    assert dict(intent) == fx.EXPECTED_INTENT


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


def _weeks(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


@pytest.mark.slow
def test_a_backfill_of_many_weeks_moves_every_customer_as_their_stored_snapshots_say(retail):
    """18 weeks of real customers' snapshots and 17 of movements, more than one quarter
    (movements.QUARTER_WEEKS, the weeks swapped in at once): every week's movements equal a pandas
    comparison of its stored snapshot with the week before's, and a week rebuilt alone gives the
    snapshot the quarter gave it."""
    assert movements.QUARTER_WEEKS < 17
    assert retail.materialize([segment_snapshots], tags=_weeks("2010-12-27", "2011-04-25")).success
    result = retail.materialize([segment_movements], tags=_weeks("2011-01-03", "2011-04-25"))
    assert result.success and all(c.passed for c in result.get_asset_check_evaluations())

    snapshots = retail.frame("SELECT week_start, segmentation, entity_id, segment, CAST(value AS DOUBLE) AS value "
                             "FROM segment_snapshots WHERE week_start BETWEEN '2010-12-27' AND '2011-04-25'")
    expected = []
    for week in pd.date_range("2011-01-03", "2011-04-25", freq="7D"):
        now = snapshots[snapshots.week_start == week]
        before = snapshots[snapshots.week_start == week - pd.Timedelta(days=7)]
        assert len(now) > 1000 and len(before) > 1000  # both weeks stored: the pandas side reads them only
        pairs = now.merge(before, on=["segmentation", "entity_id"], how="outer", suffixes=("", "_before"))
        pairs["from_segment"] = pairs.segment_before.fillna(movements.ENTERED)
        pairs["to_segment"] = pairs.segment.fillna(movements.LEFT)
        pairs["value"] = pairs.value.fillna(pairs.value_before)
        pairs["value_change"] = pairs.value - pairs.value_before.fillna(0)
        for (segmentation, origin, destination), group in pairs.groupby(["segmentation", "from_segment", "to_segment"]):
            expected.append((week.date(), segmentation, origin, destination, len(group), round(group.value.sum(), 2),
                             round(group.value_change.sum(), 2), sorted(group.entity_id)))
    platform = [(week, segmentation, origin, destination, entities, round(float(value), 2), round(float(change), 2), list(ids))
                for week, segmentation, origin, destination, entities, value, change, ids in retail.query(
                    "SELECT week_start, segmentation, from_segment, to_segment, entities, value, value_change, entity_ids "
                    "FROM segment_movements WHERE week_start BETWEEN '2011-01-03' AND '2011-04-25'")]
    assert len({row[0] for row in platform}) == 17
    assert sorted(platform) == sorted(expected)
    assert any(origin != destination for _, _, origin, destination, *_ in platform)

    def week_rows(week: str) -> list:
        return retail.query("SELECT * FROM segment_snapshots WHERE week_start = ? ORDER BY segmentation, entity_id", [week])

    in_quarter = week_rows("2011-04-04")  # the second quarter's
    assert retail.materialize([segment_snapshots], tags=_weeks("2011-04-04", "2011-04-04")).success
    assert week_rows("2011-04-04") == in_quarter


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
    # no model was stored: this run fitted one and stored it; the next run applies it, no KMeans,
    # and assigns every customer to the cluster (and label) of the fit
    assert metadata["fitted_now"].value is True
    again = retail.materialize([behaviour_clusters, behaviour_clusters_checks])
    assert again.success and all(c.passed for c in again.get_asset_check_evaluations())
    applied = again.get_asset_materialization_events()[0].materialization.metadata
    assert applied["fitted_now"].value is False and applied["k"].value == metadata["k"].value
    order = "SELECT * FROM behaviour_clusters ORDER BY customer_id"
    pd.testing.assert_frame_equal(retail.frame(order), table.sort_values("customer_id", ignore_index=True))
    pd.testing.assert_frame_equal(retail.frame("SELECT * FROM behaviour_cluster_profiles ORDER BY cluster"), profiles)


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


# ------------------------------------------------------------------ behaviour clusters: fit weekly, apply daily

def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(asset)[-1].metadata.items()}


def _stored_model(built) -> pd.DataFrame:
    return built.frame("SELECT * FROM behaviour_cluster_model ORDER BY cluster")


def _mlflow_runs(built) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(built.resources["mlflow_tracking"].resolved_tracking_uri())
    experiment = client.get_experiment_by_name("shopverse/behaviour_clusters")
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


@pytest.fixture(scope="module")
def weekly_clusters(tmp_path_factory):
    """The hand-written orders (11 customers), the weekly model fitted and tracked, then two daily runs."""
    built = with_mlflow(hand_orders_warehouse(tmp_path_factory, "segmentation_cluster_model"),
                        mlflow_store(tmp_path_factory, "segmentation_cluster_mlflow"))
    weekly = built.materialize([behaviour_cluster_model])
    assert weekly.success
    stored = _stored_model(built)
    runs = _mlflow_runs(built)
    days = [built.materialize([behaviour_clusters, behaviour_clusters_checks]) for _ in range(2)]
    return built, weekly, stored, runs, days


def test_weekly_cluster_model_is_stored_and_tracked_in_mlflow(weekly_clusters, tmp_path):
    built, weekly, stored, runs, _ = weekly_clusters
    metadata = _metadata(weekly, "behaviour_cluster_model")
    k = metadata["k"]
    assert sorted(stored.cluster) == list(range(k)) and set(stored.k) == {k}
    assert set(stored.fitted_by) == {"behaviour_cluster_model"} and str(stored.as_of_date.iloc[0].date()) == str(fx.AS_OF)
    assert set(stored.customers_fitted) == {len(fx.ORDERS)}
    assert stored.cluster_label.is_unique
    features = list(stored.features.iloc[0])
    assert all(len(c) == len(features) for c in stored.centre)
    # one MLflow run per fit, linked from the table, with the fit's k, features and silhouettes;
    # under it a candidate run per k tried, as the other models' trainings have
    (run,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    candidates = {r.data.tags["shopverse.candidate"]: r for r in runs if r.data.tags.get("mlflow.parentRunId") == run.info.run_id}
    assert len(candidates) == len(runs) - 1 >= 2
    assert {name: round(r.data.metrics["silhouette"], 4) for name, r in candidates.items()} == {
        f"k={key}": value for key, value in {int(key): value for key, value in metadata["silhouette_by_k"].items()}.items()}
    assert [name for name, r in candidates.items() if r.data.tags["shopverse.selected"] == "true"] == [f"k={k}"]
    assert set(stored.mlflow_run_id) == {run.info.run_id} == {metadata["mlflow_run_id"]}
    assert run.data.params["k"] == str(k) and run.data.params["features"] == ",".join(features)
    by_k = {int(key): value for key, value in metadata["silhouette_by_k"].items()}
    assert {name: round(v, 4) for name, v in run.data.metrics.items() if name.startswith("silhouette_k")} == \
        {f"silhouette_k{key}": value for key, value in by_k.items()}
    assert run.data.metrics["silhouette"] == pytest.approx(stored.silhouette.iloc[0]) == pytest.approx(by_k[k], abs=1e-4)
    # the model parameters as a JSON artifact: the same centres, scaling and names as the table
    from mlflow import MlflowClient

    client = MlflowClient(built.resources["mlflow_tracking"].resolved_tracking_uri())
    model = json.loads(Path(client.download_artifacts(run.info.run_id, "cluster_model.json", str(tmp_path))).read_text())
    assert model["k"] == k and model["features"] == features
    np.testing.assert_array_equal(np.array(model["centres"]), np.stack(stored.centre))
    np.testing.assert_array_equal(model["mean"], stored.feature_mean.iloc[0])
    assert model["names"] == {str(c): n for c, n in zip(stored.cluster, stored.cluster_label)}


def test_daily_clusters_apply_the_stored_model_with_the_labels_of_the_fit(weekly_clusters):
    built, _, stored, _, days = weekly_clusters
    assert all(day.success and all(c.passed for c in day.get_asset_check_evaluations()) for day in days)
    table = built.frame("SELECT * FROM behaviour_clusters ORDER BY customer_id")
    # independent expectation: a fit of the same customers (the frame the daily step read, in its
    # order) gives each of them the cluster and label the stored model assigned
    expected = cluster_customers(table[["customer_id", *ORDER_FEATURES, *EVENT_FEATURES]], 3, 8, 0)
    assert table.cluster.tolist() == expected.labels.tolist()
    names = dict(zip(expected.profiles.cluster, expected.profiles.cluster_label))
    assert table.cluster_label.tolist() == [names[c] for c in expected.labels]
    profiles = built.frame("SELECT * FROM behaviour_cluster_profiles ORDER BY cluster")
    assert profiles.customers.tolist() == expected.profiles.customers.tolist() and set(profiles.k) == {expected.k}
    assert np.allclose(profiles.median_net_revenue, expected.profiles.median_net_revenue)


def test_daily_clusters_do_not_refit_when_a_model_is_stored(weekly_clusters):
    built, _, stored, runs, days = weekly_clusters
    for day in days:
        metadata = _metadata(day, "behaviour_clusters")
        assert metadata["fitted_now"] is False and "silhouette_by_k" not in metadata
        assert metadata["model_fitted_by"] == "behaviour_cluster_model"
        assert metadata["model_as_of_date"] == str(fx.AS_OF)
        assert metadata["model_fitted_at"] == str(stored.fitted_at.iloc[0])
    # the stored model is the weekly one, untouched, and the daily runs logged nothing to MLflow
    pd.testing.assert_frame_equal(_stored_model(built), stored)
    assert [r.info.run_id for r in _mlflow_runs(built)] == [r.info.run_id for r in runs]


def test_daily_clusters_alone_fit_once_and_store_the_model(tmp_path_factory):
    built = with_mlflow(hand_orders_warehouse(tmp_path_factory, "segmentation_daily_clusters"),
                        mlflow_store(tmp_path_factory, "segmentation_daily_clusters_mlflow"))
    first = built.materialize([behaviour_clusters])
    assert first.success and all(c.passed for c in first.get_asset_check_evaluations())
    metadata = _metadata(first, "behaviour_clusters")
    assert metadata["fitted_now"] is True and metadata["fit_reason"] == "no model stored yet"
    stored = _stored_model(built)
    assert set(stored.fitted_by) == {"behaviour_clusters"} and stored.mlflow_run_id.isna().all()
    assert len(stored) == metadata["k"] == len(metadata["silhouette_by_k"]) and len(metadata["silhouette_by_k"]) > 1
    clusters = built.frame("SELECT * FROM behaviour_clusters ORDER BY customer_id")
    second = built.materialize([behaviour_clusters])
    assert second.success and _metadata(second, "behaviour_clusters")["fitted_now"] is False
    pd.testing.assert_frame_equal(_stored_model(built), stored)
    pd.testing.assert_frame_equal(built.frame("SELECT * FROM behaviour_clusters ORDER BY customer_id"), clusters)
    assert _mlflow_runs(built) == []
    # a stored model fitted on other features no longer describes the customers: fitted again
    with built.warehouse.connect() as con:
        con.execute("UPDATE behaviour_cluster_model SET features = features[2:], feature_mean = feature_mean[2:], "
                    "feature_std = feature_std[2:], centre = centre[2:]")
    third = built.materialize([behaviour_clusters])
    metadata = _metadata(third, "behaviour_clusters")
    assert third.success and metadata["fitted_now"] is True and "not the ones that vary" in metadata["fit_reason"]
    refitted = _stored_model(built)
    assert list(refitted.features.iloc[0]) == list(stored.features.iloc[0])
    assert refitted.fitted_at.iloc[0] > stored.fitted_at.iloc[0]


def test_cluster_model_is_fitted_in_the_weekly_job_not_the_daily_one():
    from shopverse_platform.definitions import defs

    definitions = defs()
    daily = {k.to_user_string() for k in definitions.resolve_job_def("daily_job").asset_layer.selected_asset_keys}
    weekly = {k.to_user_string() for k in definitions.resolve_job_def("weekly_job").asset_layer.selected_asset_keys}
    assert "behaviour_cluster_model" in weekly and "behaviour_cluster_model" not in daily
    assert "behaviour_clusters" in daily and "behaviour_clusters" not in weekly
