"""Models on real data (churn, lifetime value: UCI Online Retail) and simulated events (propensity):
MLflow tracking, the registry gate, batch scores from the champion."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pytest

from shopverse_platform.defs.ml.common import code_version
from shopverse_platform.defs.ml.models import (
    churn,
    customer_lifetime_value,
    purchase_propensity,
)
from shopverse_platform.defs.ml.scores import (
    churn_scores,
    clv_scores,
    propensity_scores,
)
from shopverse_platform.defs.ml.training_sets import (
    churn_training_set,
    clv_training_set,
    propensity_training_set,
)
from shopverse_platform.lib.ml.specs import CLASSIFIER_METRICS, REGRESSOR_METRICS
from shopverse_platform.lib.ml.tracking import using

pytestmark = pytest.mark.slow
CLASSIFIER_PLOTS = {"roc_curve.html", "precision_recall_curve.html", "confusion_matrix.html", "calibration.html", "feature_importance.html"}


def _materialization(result: dg.ExecuteInProcessResult, key: str) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in events[-1].materialization.metadata.items()}


@pytest.fixture(scope="module")
def trained(retail):
    result = retail.materialize([churn_training_set, churn, churn_scores, clv_training_set, customer_lifetime_value, clv_scores])
    assert result.success
    return result


def _client(built):
    from mlflow import MlflowClient

    return MlflowClient(built.resources["mlflow_tracking"].resolved_tracking_uri())


def test_each_training_is_a_parent_run_with_a_nested_run_per_candidate(retail, trained):
    client = _client(retail)
    for model, metric_names in (("churn", CLASSIFIER_METRICS), ("customer_lifetime_value", REGRESSOR_METRICS)):
        experiment = client.get_experiment_by_name(f"shopverse/{model}")
        # the MLflow UI opens it on the classic runs view, not the GenAI one
        assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
        runs = client.search_runs([experiment.experiment_id])
        parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        assert len(parents) == 1
        parent = parents[0]
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(r.data.tags["shopverse.candidate"] for r in children) == sorted(
            ["baseline", "linear", "random_forest", "hist_gradient_boosting"])
        for run in [parent, *children]:  # tied to Dagster, same metric names everywhere
            assert run.data.tags["dagster.run_id"] == trained.run_id
            assert run.data.tags["dagster.asset_key"] == model
            assert run.data.tags["dagster.partition"] == "unpartitioned"
            assert run.data.tags["dagster.code_version"] == code_version()
            assert set(metric_names) <= set(run.data.metrics)
            assert run.inputs.dataset_inputs[0].dataset.digest == parent.data.tags["shopverse.training_set_digest"]
        profile = parent.inputs.dataset_inputs[0].dataset.profile
        rows = retail.query(f"SELECT count(*) FROM {'churn' if model == 'churn' else 'clv'}_training_set")[0][0]
        assert f'"num_rows": {rows}' in profile
        selected = parent.data.tags["shopverse.selected_candidate"]
        chosen = next(r for r in children if r.data.tags["shopverse.candidate"] == selected)
        assert parent.data.metrics[metric_names[0]] == chosen.data.metrics[metric_names[0]]
        if model == "churn":
            for run in children:
                plots = {a.path.split("/")[-1] for a in client.list_artifacts(run.info.run_id, "plots")}
                assert CLASSIFIER_PLOTS <= plots
        assert "model" in {a.path for a in client.list_artifacts(parent.info.run_id)} or client.search_logged_models(
            [experiment.experiment_id])


def test_real_data_models_beat_their_naive_baselines(trained):
    churn_meta = _materialization(trained, "churn")
    clv_meta = _materialization(trained, "customer_lifetime_value")
    assert churn_meta["alias"] == clv_meta["alias"] == "champion"
    checks = {c.check_name: c.passed for c in trained.get_asset_check_evaluations()}
    assert checks["churn_beats_baseline"] and checks["customer_lifetime_value_beats_baseline"]
    assert all(checks.values()), checks


def test_batch_scores_come_from_the_champion(retail, trained):
    buyers = retail.query("SELECT count(*) FROM customer_metrics WHERE orders > 0")[0][0]
    scores = retail.frame("SELECT s.*, m.recency_days, m.net_revenue FROM churn_scores s JOIN customer_metrics m USING (customer_id)")
    assert len(scores) == buyers and scores.customer_id.is_unique
    assert set(scores.model_version) == {_materialization(trained, "churn")["registered_version"]}
    assert scores.churn_probability.between(0, 1).all()
    # customers silent for half a year are likelier to stay away than last month's buyers
    assert scores[scores.recency_days > 180].churn_probability.mean() > scores[scores.recency_days < 30].churn_probability.mean() + 0.2
    clv = retail.frame("SELECT s.predicted_revenue, m.net_revenue FROM clv_scores s JOIN customer_metrics m USING (customer_id)")
    assert len(clv) == buyers and (clv.predicted_revenue >= 0).all()
    assert clv.predicted_revenue.corr(clv.net_revenue.astype(float), method="spearman") > 0.5


def test_registry_gate_moves_champion_only_by_the_margin_and_with_passing_checks(retail, trained):
    from mlflow import MlflowClient

    selected = _materialization(trained, "churn")["selected_candidate"]

    def retrain(margin: float | None, min_rows: int = 50) -> dict:
        config = {"ops": {"churn": {"config": {"candidates": [selected], "log_figures": False, "promotion_margin": margin}},
                          "churn_training_set": {"config": {"min_rows": min_rows}}}}
        result = retail.materialize([churn_training_set, churn], run_config=config)
        assert result.success
        return _materialization(result, "churn")

    def aliases() -> dict:
        with using(retail.resources["mlflow_tracking"].target()):
            model = MlflowClient().get_registered_model("churn")
            return {alias: str(version) for alias, version in model.aliases.items()}

    assert aliases() == {"champion": "1"}
    same = retrain(None)  # the same candidate on the same data and seed: equal, not better by the margin
    assert (same["registered_version"], same["alias"]) == ("2", "challenger")
    assert aliases() == {"champion": "1", "challenger": "2"}
    failing = retrain(-1.0, min_rows=10**9)  # would win on any metric, but the training set fails its checks
    assert (failing["registered_version"], failing["alias"]) == ("3", "challenger")
    assert "enough_rows_and_labels" in failing["training_set_checks"]["failed"]
    promoted = retrain(-1.0)  # a negative margin: anything at least as good as the champion minus 1 wins
    assert (promoted["registered_version"], promoted["alias"]) == ("4", "champion")
    assert aliases() == {"champion": "4", "challenger": "3"}
    with using(retail.resources["mlflow_tracking"].target()):
        version = MlflowClient().get_model_version("churn", "2")
    # the champion was re-scored on the same holdout: it scored exactly what the identical challenger did
    assert float(version.tags["shopverse.champion_metric"]) == pytest.approx(float(version.tags["shopverse.roc_auc"]))


def test_propensity_on_simulated_events(simulated):
    result = simulated.materialize([propensity_training_set, purchase_propensity, propensity_scores])
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert all(checks.values()), checks
    meta = _materialization(result, "purchase_propensity")
    assert meta["alias"] == "champion" and meta["roc_auc"] > 0.65
    scores = simulated.frame("SELECT * FROM propensity_scores")
    assert scores.visitor_id.is_unique and scores.purchase_probability.between(0, 1).all()
    # visitors who added to cart in the last week are likelier to buy than those who never did
    features = simulated.frame("SELECT entity_id AS visitor_id, cart_adds_7d FROM propensity_training_set WHERE split = 'validation'")
    joined = scores.merge(features, on="visitor_id")
    assert joined[joined.cart_adds_7d > 0].purchase_probability.mean() > joined[joined.cart_adds_7d == 0].purchase_probability.mean()
    assert np.isfinite(scores.purchase_probability).all()


def test_scores_are_kept_when_the_registry_has_no_champion(retail, trained, tmp_path):
    """A registry without a champion (reset, moved, a wrong MLFLOW_TRACKING_URI) used to replace the
    scores with an empty table and report success: 18,813 rows -> 0. The last good scores stay."""
    from shopverse_platform.defs.ml.resources import MlflowTracking

    before = retail.frame("SELECT * FROM churn_scores ORDER BY customer_id")
    assert len(before) > 0
    empty_registry = MlflowTracking(tracking_uri=f"sqlite:///{tmp_path / 'empty.db'}", artifact_location=str(tmp_path / "a"))
    result = dg.materialize([churn_scores], resources={**retail.resources, "mlflow_tracking": empty_registry},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    metadata = result.asset_materializations_for_node("churn_scores")[0].metadata
    assert metadata["kept_previous_scores"].value is True
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    after = retail.frame("SELECT * FROM churn_scores ORDER BY customer_id")
    assert after.equals(before)
