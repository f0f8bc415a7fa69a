"""Training prints no MLflow noise (issue 18): each line a demo printed is fixed at its cause or
quietened at its own logger, and what MLflow records stays what it recorded before."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

from shopverse_platform.lib.ml import training
from shopverse_platform.lib.ml.pyfunc import ScoringModel
from shopverse_platform.lib.ml.specs import SPECS
from shopverse_platform.lib.ml.tracking import TrackingTarget, using
from shopverse_platform.lib.paths import PROJECT_ROOT

# What a 60-day demo printed on stderr from MLflow before (one of each kind).
NOISE = (
    "Creating initial MLflow database tables",
    "Updating database tables",
    "can be interpreted in multiple ways",
    "Inferred schema contains integer column",
    "Detected uv project",
    "Copied uv.lock to model artifacts",
    "Copied pyproject.toml to model artifacts",
    "Passing a Python object as `python_model`",
    "Validating input example against model signature",
    "Failed to resolve installed pip version",
    "Successfully registered model",
    "Created version",
)


def _fitted_model(spec):
    from sklearn.linear_model import LinearRegression, LogisticRegression

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.random((40, len(spec.features))), columns=list(spec.features))
    y = np.arange(40) % 2
    estimator = (LogisticRegression() if spec.kind == "classifier" else LinearRegression()).fit(X, y)
    return ScoringModel(estimator, list(spec.features), spec.kind, 0.5), X.head(5)


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=lambda s: s.name)
def test_declared_signature_is_the_one_mlflow_inferred(spec):
    from mlflow.models import infer_signature

    model, example = _fitted_model(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inferred = infer_signature(example, model.predict(None, example))
    assert training.model_signature(spec).to_dict() == inferred.to_dict()


def test_declared_environment_writes_the_files_mlflow_wrote(tmp_path):
    import mlflow.pyfunc

    model, _ = _fitted_model(SPECS["churn"])
    mlflow.pyfunc.save_model(tmp_path / "inferred", python_model=model, pip_requirements=training._requirements())
    mlflow.pyfunc.save_model(tmp_path / "declared", python_model=model, conda_env=training.model_environment())
    for name in ("conda.yaml", "requirements.txt", "python_env.yaml"):
        assert (tmp_path / "declared" / name).read_text() == (tmp_path / "inferred" / name).read_text(), name


TRAIN_SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np, pandas as pd
    from shopverse_platform.lib.ml.specs import CHURN
    from shopverse_platform.lib.ml.tracking import RunOrigin, TrackingTarget, ensure_local_store
    from shopverse_platform.lib.ml.training import train_and_track

    root = Path(sys.argv[1])
    store = root / "mlflow.db"
    ensure_local_store(store, root / "artifacts")
    uri = f"sqlite:///{store}"
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame(rng.random((n, len(CHURN.features))) * 10, columns=list(CHURN.features))
    frame["entity_id"] = [f"c{i}" for i in range(n)]
    frame["split"] = np.where(np.arange(n) < 300, "train", "validation")
    frame["label"] = (frame[CHURN.baseline_feature] + rng.normal(0, 2, n) > 5).astype("int64")
    outcome = train_and_track(CHURN, frame, TrackingTarget(uri, uri, str(root / "artifacts")),
                              RunOrigin("0123456789abcdef", "churn", None, "v1"), dataset_source=str(root / "w.duckdb"),
                              checks_passed=True, candidates=("baseline", "linear"), log_figures=False)
    print(json.dumps({"version": outcome.gate.version, "alias": outcome.gate.alias, "model_uri": outcome.model_uri}))
""")


def test_training_prints_no_mlflow_noise_and_records_the_same(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}  # Python's default warning filters, as in a step process
    for name in ("MLFLOW_LOGGING_LEVEL", "PYTHONWARNINGS"):
        env.pop(name, None)
    env.pop("MLFLOW_TRACKING_URI", None)
    results = []
    for _ in range(2):  # the second training finds the registered model: "already exists" is quiet too
        done = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT, str(tmp_path)], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert [line for line in done.stderr.splitlines() if line.strip()] == [], done.stderr
        results.append(done.stdout.strip().splitlines()[-1])
    import json

    from mlflow import MlflowClient

    first, second = (json.loads(r) for r in results)
    # the same data again: same metric, not better by the margin, so the second version is a challenger
    assert (first["version"], first["alias"], second["version"], second["alias"]) == ("1", "champion", "2", "challenger")
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    version = client.get_model_version("churn", "2")
    assert version.tags["dagster.run_id"] == "0123456789abcdef"
    # what the fluent registration records on the logged model is still there
    model_id = second["model_uri"].removeprefix("models:/")
    assert json.loads(client.get_logged_model(model_id).tags["mlflow.modelVersions"]) == [{"name": "churn", "version": 2}]
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "1"


def test_the_noise_list_matches_what_the_old_calls_print(tmp_path, capfd):
    """The NOISE lines are real: the calls as they were made before do print them (so the test above
    would see them if they came back)."""
    import mlflow
    from mlflow.models import infer_signature

    spec = SPECS["churn"]
    model, example = _fitted_model(spec)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    with using(TrackingTarget(uri, uri)), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(name="model", python_model=model,
                                           signature=infer_signature(example, model.predict(None, example)),
                                           input_example=example, pip_requirements=training._requirements())
        mlflow.register_model(info.model_uri, "m")
    assert any("Inferred schema contains integer column" in str(w.message) for w in caught)
    err = capfd.readouterr().err
    for line in ("Failed to resolve installed pip version", "Successfully registered model 'm'",
                 "Created version '1' of model 'm'"):
        assert line in err
