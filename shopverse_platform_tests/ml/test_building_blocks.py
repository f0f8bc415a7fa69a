"""Small pieces checked by hand: the naive baselines, the metrics, the registry rule, the MLflow
resource's defaults and the tracking context."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from shopverse_platform.defs.ml.resources import MlflowTracking
from shopverse_platform.lib.ml import evaluation as ev
from shopverse_platform.lib.ml.candidates import (
    BinnedRateClassifier,
    NaiveRateRegressor,
)
from shopverse_platform.lib.ml.specs import CHURN, CLV
from shopverse_platform.lib.ml.tracking import TrackingTarget, using


def test_binned_rate_baseline_predicts_the_smoothed_rate_of_the_bin():
    X = pd.DataFrame({"recency_days": [1, 2, 3, 4, 100, 101, 102, 103]})
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    model = BinnedRateClassifier(feature="recency_days", bins=2, prior_weight=0).fit(X, y)
    # the median (52) splits the rows: 1 churner in 4 below it, 3 in 4 above it
    assert model.predict_proba(pd.DataFrame({"recency_days": [0, 50, 60, 500]}))[:, 1].tolist() == [0.25, 0.25, 0.75, 0.75]
    smoothed = BinnedRateClassifier(feature="recency_days", bins=2, prior_weight=4).fit(X, y)
    assert smoothed.predict_proba(pd.DataFrame({"recency_days": [0]}))[0, 1] == pytest.approx((1 + 4 * 0.5) / (4 + 4))


def test_naive_rate_regressor_spends_at_the_past_daily_rate():
    X = pd.DataFrame({"net_revenue": [180.0, 90.0, -20.0], "age_days": [179, 29, 10]})
    # 180 over 180 days -> 1/day x 90; 90 over 30 days (< 90, so counted as 90) -> 90; refunds -> 0
    assert NaiveRateRegressor(horizon_days=90).fit(X).predict(X).tolist() == [90.0, 90.0, 0.0]


def test_classification_metrics_by_hand():
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.6, 0.7, 0.1, 0.4, 0.2])
    metrics = ev.classification_metrics(y, p, threshold=0.5)
    # predicted 1 for 0.9, 0.6, 0.7: TP 2, FP 1, FN 1
    assert (metrics["precision"], metrics["recall"], metrics["f1"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert metrics["brier"] == pytest.approx(np.mean([0.01, 0.16, 0.49, 0.01, 0.36, 0.04]))
    # pairs (pos, neg) ranked right: 0.9 beats all 3, 0.6 beats 0.1/0.2, 0.4 beats 0.1/0.2 -> 7 of 9
    assert metrics["roc_auc"] == pytest.approx(7 / 9) == ev.fast_auc(y, p)
    assert ev.choose_threshold(y, p) == pytest.approx(0.4)  # at 0.4: precision 3/4, recall 1, F1 6/7, the best


def test_regression_metrics_by_hand():
    y = np.array([0.0, 0.0, 10.0, 30.0])
    predicted = np.array([1.0, 0.0, 20.0, 15.0])
    metrics = ev.regression_metrics(y, predicted)
    assert metrics["mae"] == pytest.approx((1 + 0 + 10 + 15) / 4)
    assert metrics["rmse"] == pytest.approx(np.sqrt((1 + 0 + 100 + 225) / 4))
    assert metrics["total_error_pct"] == pytest.approx(100 * (36 - 40) / 40)
    assert metrics["top_decile_share"] == pytest.approx(10 / 40)  # one row of four: the 20-prediction, worth 10
    assert ev.fast_r2(y, predicted) == pytest.approx(metrics["r2"])


def test_the_gate_compares_by_margin_in_the_right_direction():
    assert CHURN.beats(0.806, 0.80, 0.005) and not CHURN.beats(0.804, 0.80, 0.005)
    assert CLV.beats(98.0, 100.0, 0.01) and not CLV.beats(99.5, 100.0, 0.01)


def test_mlflow_tracking_resource_defaults_and_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPVERSE_DATA_DIR", str(tmp_path / "data"))
    local = MlflowTracking()
    assert local.resolved_tracking_uri() == f"sqlite:///{tmp_path / 'data' / 'mlflow' / 'mlflow.db'}"
    assert local.target().artifact_location == str(tmp_path / "data" / "mlflow" / "artifacts")
    assert local.resolved_registry_uri() == local.resolved_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    server = MlflowTracking()
    assert server.resolved_tracking_uri() == "http://127.0.0.1:5999" and server.is_server()
    assert server.target().artifact_location is None  # the server keeps artifacts at its destination
    assert MlflowTracking(tracking_uri="sqlite:///x.db").resolved_tracking_uri() == "sqlite:///x.db"  # a field beats env


def test_tracking_context_restores_mlflow_state_and_environment(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    target = TrackingTarget(f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'a.db'}")
    before = mlflow.get_tracking_uri()
    with using(target):
        assert mlflow.get_tracking_uri() == target.tracking_uri and mlflow.get_registry_uri() == target.registry_uri
    assert mlflow.get_tracking_uri() == before
    # MLflow exports the URIs to the environment; nothing may stay behind for the next resource
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ


def test_an_unreachable_tracking_server_fails_at_once_and_retries_are_bounded(tmp_path, monkeypatch):
    """With MLflow on a closed port the weekly job spent 752 s in MLflow's own retries; scoring then
    replaced its table with an empty one. Now the block refuses to start, naming the server."""
    import socket

    from shopverse_platform.lib.ml.tracking import BOUNDED_HTTP_SETTINGS, TrackingUnavailable

    for name in BOUNDED_HTTP_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(TrackingUnavailable, match=closed):
        with using(TrackingTarget(closed, closed)):
            raise AssertionError("the block must not run")

    local = TrackingTarget(f"sqlite:///{tmp_path / 'b.db'}", f"sqlite:///{tmp_path / 'b.db'}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")  # a user's own setting wins
    with using(local):
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30"
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30"


def test_the_local_store_is_created_whole_or_reported_with_the_fix(tmp_path):
    """A kill -9 while MLflow created its SQLite store left it half made ("table mcp_servers already
    exists" on every later run). The store is now linked into place only once complete, and a
    half-made one is reported with what to do."""
    import sqlite3

    import mlflow

    from shopverse_platform.lib.ml.tracking import DamagedStore, ensure_local_store

    store = tmp_path / "mlflow" / "mlflow.db"
    ensure_local_store(store, tmp_path / "artifacts")
    assert sorted(p.name for p in store.parent.iterdir()) == ["mlflow.db"]  # no temporary file left
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    assert client.create_experiment("e", artifact_location=(tmp_path / "a").as_uri())
    ensure_local_store(store, tmp_path / "artifacts")  # a complete store is kept as it is
    assert client.get_experiment_by_name("e") is not None

    half = tmp_path / "half" / "mlflow.db"
    half.parent.mkdir()
    con = sqlite3.connect(half)
    con.execute("CREATE TABLE experiments (experiment_id INTEGER)")  # what an interrupted creation leaves
    con.close()
    with pytest.raises(DamagedStore, match="mv .*mlflow.db .*broken"):
        ensure_local_store(half, tmp_path / "artifacts")
