"""Against real processes: the training assets logging to an `mlflow server` (SQLite backend,
proxied artifacts), checked through MLflow's REST API; then the champion served by
`mlflow models serve` and its answers compared with the batch scores."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from shopverse_platform.defs.ml.models import churn, customer_lifetime_value
from shopverse_platform.defs.ml.resources import MlflowTracking
from shopverse_platform.defs.ml.scores import churn_scores
from shopverse_platform.defs.ml.training_sets import (
    churn_training_set,
    clv_training_set,
)
from shopverse_platform.lib.ml import features
from shopverse_platform.lib.ml.specs import CHURN, CLASSIFIER_METRICS
from shopverse_platform_tests.conftest import Built, free_port, stop_process_group
from shopverse_platform_tests.ml.warehouses import retail_warehouse

pytestmark = [pytest.mark.services, pytest.mark.slow]
MLFLOW = str(Path(sys.executable).parent / "mlflow")


def _start(command: list[str], env: dict, log: Path, ready_url: str, timeout: float = 150) -> subprocess.Popen:
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[:3]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(ready_url, timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.5)
    stop_process_group(process, timeout=20)
    raise RuntimeError(f"{command[:3]} not ready after {timeout}s:\n{log.read_text()[-3000:]}")


def _env(**extra: str) -> dict:
    """The test's environment without MLflow settings, with the venv's bin first on PATH: the
    scoring server execs `uvicorn` by name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = f"{Path(MLFLOW).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    command = [MLFLOW, "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
               "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    process = _start(command, _env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"), root / "server.log", f"http://127.0.0.1:{port}/health")
    yield f"http://127.0.0.1:{port}"
    stop_process_group(process, timeout=20)


@pytest.fixture(scope="module")
def trained(server, tmp_path_factory, online_retail_file):
    warehouse = retail_warehouse(tmp_path_factory, online_retail_file, "services_retail")
    built = Built(warehouse, {"warehouse": warehouse, "mlflow_tracking": MlflowTracking(tracking_uri=server)})
    result = built.materialize([churn_training_set, churn, churn_scores, clv_training_set, customer_lifetime_value])
    assert result.success
    return built, result


def _api(server: str, method: str, path: str, **kwargs) -> dict:
    response = requests.request(method, f"{server}/api/2.0/mlflow/{path}", timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def test_training_assets_log_runs_metrics_artifacts_and_versions_to_a_real_server(server, trained):
    _, result = trained
    for model in ("churn", "customer_lifetime_value"):
        experiment = _api(server, "GET", "experiments/get-by-name", params={"experiment_name": f"shopverse/{model}"})["experiment"]
        runs = _api(server, "POST", "runs/search", json={"experiment_ids": [experiment["experiment_id"]]})["runs"]
        tags = [{t["key"]: t["value"] for t in run["data"].get("tags", [])} for run in runs]
        parents = [r for r, t in zip(runs, tags) if "mlflow.parentRunId" not in t]
        assert len(parents) == 1 and len(runs) == 5
        parent_id = parents[0]["info"]["run_id"]
        assert sorted(t["shopverse.candidate"] for t in tags if t.get("mlflow.parentRunId") == parent_id) == sorted(
            ["baseline", "linear", "random_forest", "hist_gradient_boosting"])
        assert all(t["dagster.run_id"] == result.run_id for t in tags)
        assert parents[0]["inputs"]["dataset_inputs"][0]["dataset"]["name"].endswith("_training_set")
        registered = _api(server, "GET", "registered-models/get", params={"name": model})["registered_model"]
        assert {a["alias"]: a["version"] for a in registered.get("aliases", [])} == {"champion": "1"}
        champion = _api(server, "GET", "registered-models/alias", params={"name": model, "alias": "champion"})["model_version"]
        version_tags = {t["key"]: t["value"] for t in champion["tags"]}
        assert version_tags["shopverse.gate"] == "champion" and version_tags["shopverse.parent_run_id"] == parent_id
    churn_runs = _api(server, "POST", "runs/search", json={
        "experiment_ids": [_api(server, "GET", "experiments/get-by-name", params={"experiment_name": "shopverse/churn"})["experiment"]["experiment_id"]],
        "filter": "tags.`shopverse.candidate` = 'random_forest'"})["runs"]
    run_id = churn_runs[0]["info"]["run_id"]
    assert set(CLASSIFIER_METRICS) <= {m["key"] for m in churn_runs[0]["data"]["metrics"]}
    listed = _api(server, "GET", "artifacts/list", params={"run_id": run_id, "path": "plots"})
    assert {"plots/roc_curve.html", "plots/precision_recall_curve.html", "plots/feature_importance.html",
            "plots/confusion_matrix.html", "plots/calibration.html"} <= {f["path"] for f in listed["files"]}
    html = requests.get(f"{server}/get-artifact", params={"path": "plots/roc_curve.html", "run_uuid": run_id}, timeout=30)
    assert html.status_code == 200 and "plotly" in html.text


def test_the_champion_served_by_mlflow_answers_like_the_batch_scores(server, trained, tmp_path):
    built, _ = trained
    port = free_port()
    command = [MLFLOW, "models", "serve", "-m", "models:/churn@champion", "--env-manager", "local",
               "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    process = _start(command, _env(MLFLOW_TRACKING_URI=server), tmp_path / "serve.log", f"http://127.0.0.1:{port}/ping")
    try:
        assert requests.get(f"http://127.0.0.1:{port}/ping", timeout=10).status_code == 200
        with built.warehouse.connect(read_only=True) as con:
            as_of = features.last_day(con, CHURN)
            rows = features.scoring_frame(con, CHURN, as_of + timedelta(days=1)).sample(60, random_state=1)
        payload = {"dataframe_split": {"columns": list(CHURN.features), "data": rows[list(CHURN.features)].values.tolist()}}
        response = requests.post(f"http://127.0.0.1:{port}/invocations", json=payload, timeout=60)
        assert response.status_code == 200, response.text
        answers = response.json()["predictions"]
        batch = built.frame("SELECT customer_id, churn_probability, predicted_label FROM churn_scores").set_index("customer_id")
        expected = batch.loc[rows.entity_id]
        assert [a["score"] for a in answers] == pytest.approx(expected.churn_probability.tolist(), abs=1e-9)
        assert [a["label"] for a in answers] == expected.predicted_label.tolist()
    finally:
        stop_process_group(process, timeout=20)
