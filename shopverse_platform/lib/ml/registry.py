"""The model registry gate.

Every trained model becomes a new version of its registered model. The alias ``champion`` moves to
it only when the training set's checks passed and it beats the current champion, re-scored on the
*same* validation split, by the stated margin (``ModelSpec.beats``); otherwise the version gets
``challenger``. The first version with passing checks becomes champion. Batch scoring and serving
load ``models:/<name>@champion``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopverse_platform.lib.ml import evaluation as ev
from shopverse_platform.lib.ml.specs import ModelSpec
from shopverse_platform.lib.ml.tracking import mlflow_output_muted

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class GateDecision:
    version: str
    alias: str
    new_metric: float
    champion_version: str | None
    champion_metric: float | None
    checks_passed: bool
    margin: float
    reason: str

    @property
    def promoted(self) -> bool:
        return self.alias == CHAMPION


def champion_uri(name: str) -> str:
    return f"models:/{name}@{CHAMPION}"


def current_version(client, name: str, alias: str = CHAMPION):
    """The version holding ``alias``, or None (no such model or alias yet)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def primary_metric(spec: ModelSpec, y: np.ndarray, scores: np.ndarray) -> float:
    if spec.kind == "classifier":
        return ev.classification_metrics(y, scores, 0.5)[spec.primary_metric]
    return ev.regression_metrics(y, scores)[spec.primary_metric]


def score_with(model_uri: str, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(model_uri).predict(frame[features].astype("float64"))["score"].to_numpy()


def register_and_gate(spec: ModelSpec, model_uri: str, validation: pd.DataFrame, new_metric: float, *,
                      checks_passed: bool, margin: float, version_tags: dict[str, str]) -> GateDecision:
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    champion = current_version(client, spec.name)
    # register_model prints "Successfully registered model ..." / "Created version N of model ..."
    # (or "... already exists. Creating a new version") straight to stderr, not through a logger:
    # two lines per model per run that the gate's own log line and metadata already say. Failures
    # still raise.
    with mlflow_output_muted():
        registered = mlflow.register_model(model_uri, spec.name, tags=version_tags)
    champion_metric = None
    if champion is not None:
        try:
            scores = score_with(f"models:/{spec.name}/{champion.version}", validation, list(spec.features))
            champion_metric = primary_metric(spec, validation.label.to_numpy(), scores)
        except Exception as error:  # noqa: BLE001 - a champion that cannot score the holdout loses
            reason_champion = f"champion v{champion.version} could not score the holdout ({type(error).__name__})"
        else:
            reason_champion = None
    comparison = f"{spec.primary_metric} {new_metric:.4f}"
    if not checks_passed:
        alias, reason = CHALLENGER, "training-set checks did not pass"
    elif champion is None:
        alias, reason = CHAMPION, f"first version with passing checks ({comparison})"
    elif champion_metric is None:
        alias, reason = CHAMPION, reason_champion
    elif spec.beats(new_metric, champion_metric, margin):
        alias, reason = CHAMPION, f"{comparison} beats champion v{champion.version} ({champion_metric:.4f}) by the margin {margin}"
    else:
        alias, reason = CHALLENGER, f"{comparison} does not beat champion v{champion.version} ({champion_metric:.4f}) by the margin {margin}"
    client.set_registered_model_alias(spec.name, alias, registered.version)
    for key, value in {
        "shopverse.gate": alias, "shopverse.gate_reason": reason, "shopverse.checks_passed": str(checks_passed),
        f"shopverse.{spec.primary_metric}": f"{new_metric:.6f}",
        "shopverse.champion_metric": "" if champion_metric is None else f"{champion_metric:.6f}",
    }.items():
        client.set_model_version_tag(spec.name, registered.version, key, value)
    if champion is None and client.get_registered_model(spec.name).description in (None, ""):
        client.update_registered_model(spec.name, description=f"{spec.description} Label: {spec.label}.")
    return GateDecision(str(registered.version), alias, float(new_metric), None if champion is None else str(champion.version),
                        champion_metric, checks_passed, margin, reason)
