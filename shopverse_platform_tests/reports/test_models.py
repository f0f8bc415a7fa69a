"""The models section reads the champion and the newest version from a real (local) MLflow registry."""

from __future__ import annotations

import pandas as pd

from shopverse_platform.lib.reports import insights
from shopverse_platform.lib.reports.models import load_models, registry_reachable


def test_missing_store_or_server_is_not_available_yet(tmp_path):
    uri = f"sqlite:///{tmp_path / 'nowhere' / 'mlflow.db'}"
    frame, reason = load_models(uri, uri, [("churn", "roc_auc")])
    assert frame is None and reason.startswith("not available yet: no model has been trained")
    assert not (tmp_path / "nowhere").exists()  # reading never creates a store
    assert registry_reachable("http://127.0.0.1:9", timeout=0.5).startswith("not available: the MLflow server")


def test_champion_and_newer_challenger_with_their_metric(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the store the ML layer uses by default
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn")
    for version, auc in (("1", "0.700000"), ("2", "0.812000"), ("3", "0.790000")):
        client.create_model_version("churn", source=str(tmp_path / f"model-{version}"))
        client.set_model_version_tag("churn", version, "shopverse.roc_auc", auc)
    client.set_registered_model_alias("churn", "champion", "2")
    client.set_registered_model_alias("churn", "challenger", "3")

    frame, reason = load_models(uri, uri, [("churn", "roc_auc"), ("customer_lifetime_value", "rmse")])
    assert reason is None
    assert list(zip(frame.version, frame.alias, frame.value, frame.is_champion)) == [
        ("2", "champion", 0.812, True), ("3", "challenger", 0.79, False)]
    assert [i.text for i in insights.champion_models(frame)] == ["Champion churn model: version 2 (roc_auc 0.812)"]
    assert load_models(uri, uri, [("clv", "rmse")]) == (None, "not available yet: no model is registered")
    assert isinstance(frame, pd.DataFrame)
