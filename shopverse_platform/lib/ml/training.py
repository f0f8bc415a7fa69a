"""Train every candidate on the training split, evaluate on the later validation split, track it
all in MLflow (a parent run per training, a nested run per candidate), log the best candidate as
the run's model and hand it to the registry gate."""

from __future__ import annotations

import platform
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from shopverse_platform.lib.ml import evaluation as ev
from shopverse_platform.lib.ml.candidates import CANDIDATES, describe, make_candidates
from shopverse_platform.lib.ml.registry import GateDecision, register_and_gate
from shopverse_platform.lib.ml.specs import ModelSpec
from shopverse_platform.lib.ml.tracking import (
    RunOrigin,
    TrackingTarget,
    ensure_experiment,
    frame_digest,
    using,
)

TUNE_SHARE = 5  # one training row in 5 (by entity hash) picks the threshold; the rest fit


@dataclass
class CandidateResult:
    name: str
    run_id: str
    metrics: dict[str, float]
    threshold: float | None
    estimator: object = field(repr=False)


@dataclass
class TrainingOutcome:
    experiment_id: str
    parent_run_id: str
    selected: str
    metrics: dict[str, float]
    candidates: dict[str, CandidateResult]
    model_uri: str
    gate: GateDecision
    digest: str
    rows: dict[str, int]
    seconds: float


def split_frame(frame: pd.DataFrame, spec: ModelSpec):
    """(fit, tune, validation) DataFrames. The tuning rows are a fixed fifth of the training split
    chosen by a hash of the entity id, so reruns pick the same rows."""
    train = frame[frame.split == "train"].reset_index(drop=True)
    validation = frame[frame.split == "validation"].reset_index(drop=True)
    bucket = pd.util.hash_pandas_object(train.entity_id, index=False).to_numpy() % TUNE_SHARE
    tune = train[bucket == 0].reset_index(drop=True)
    fit = train[bucket != 0].reset_index(drop=True)
    if spec.kind == "classifier" and (tune.label.nunique() < 2 or fit.label.nunique() < 2):
        fit = tune = train
    return fit, tune, validation


def _predict(spec: ModelSpec, estimator, X: pd.DataFrame) -> np.ndarray:
    if spec.kind == "classifier":
        return estimator.predict_proba(X)[:, 1]
    return np.maximum(estimator.predict(X), 0.0)


def _figures(spec: ModelSpec, name: str, estimator, X: pd.DataFrame, y: np.ndarray, scores: np.ndarray,
             threshold: float | None, seed: int) -> dict[str, object]:
    if spec.kind == "classifier":
        importance = ev.permutation_importance(lambda frame: _predict(spec, estimator, frame), X, y, ev.fast_auc, seed)
        return {
            "roc_curve.html": ev.roc_figure(y, scores, name),
            "precision_recall_curve.html": ev.pr_figure(y, scores, name),
            "confusion_matrix.html": ev.confusion_figure(y, scores, threshold, name),
            "calibration.html": ev.calibration_figure(y, scores, name),
            "feature_importance.html": ev.importance_figure(importance, name, "ROC-AUC"),
        }
    importance = ev.permutation_importance(lambda frame: _predict(spec, estimator, frame), X, y, ev.fast_r2, seed)
    return {
        "predicted_vs_actual.html": ev.predicted_vs_actual_figure(y, scores, name),
        "cumulative_gains.html": ev.gains_figure(y, scores, name),
        "calibration.html": ev.calibration_figure(y, scores, name, kind="regressor"),
        "feature_importance.html": ev.importance_figure(importance, name, "R²"),
    }


def _train_candidate(spec, name, estimator, fit, tune, validation, dataset, origin_tags, seed, log_figures,
                     experiment_id: str) -> CandidateResult:
    import mlflow

    features = list(spec.features)
    with mlflow.start_run(experiment_id=experiment_id, run_name=name, nested=True,
                          tags={**origin_tags, "shopverse.candidate": name}) as run:
        mlflow.log_input(dataset, context="training")
        mlflow.log_params({"candidate": name, **describe(estimator)})
        started = time.perf_counter()
        estimator.fit(fit[features], fit.label.to_numpy())
        fit_seconds = time.perf_counter() - started
        threshold = None
        if spec.kind == "classifier":
            threshold = ev.choose_threshold(tune.label.to_numpy(), _predict(spec, estimator, tune[features]))
        started = time.perf_counter()
        scores = _predict(spec, estimator, validation[features])
        predict_seconds = time.perf_counter() - started
        if "n_jobs" in estimator.get_params():
            # from here on (importance, serving) small batches: faster on one thread than through joblib
            estimator.set_params(n_jobs=1)
        y = validation.label.to_numpy()
        metrics = (ev.classification_metrics(y, scores, threshold) if spec.kind == "classifier"
                   else ev.regression_metrics(y, scores))
        metrics.update({"fit_seconds": fit_seconds, "predict_seconds": predict_seconds})
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        if log_figures:
            for filename, figure in _figures(spec, name, estimator, validation[features], y, scores, threshold, seed).items():
                mlflow.log_figure(figure, f"plots/{filename}")
    return CandidateResult(name, run.info.run_id, metrics, threshold, estimator)


def _best(spec: ModelSpec, results: dict[str, CandidateResult]) -> str:
    def key(name: str):
        value = results[name].metrics[spec.primary_metric]
        value = value if np.isfinite(value) else (-np.inf if spec.higher_is_better else np.inf)
        return (value if spec.higher_is_better else -value, -CANDIDATES.index(name))

    return max(results, key=key)


def _comparison_figure(spec: ModelSpec, results: dict[str, CandidateResult]):
    import plotly.graph_objects as go

    names = list(results)
    fig = go.Figure(go.Bar(x=names, y=[results[n].metrics[spec.primary_metric] for n in names]))
    fig.update_layout(title=f"{spec.name}: {spec.primary_metric} on the validation split",
                      yaxis_title=spec.primary_metric, width=640, height=420)
    return fig


def train_and_track(spec: ModelSpec, frame: pd.DataFrame, target: TrackingTarget, origin: RunOrigin, *,
                    dataset_source: str, checks_passed: bool, margin: float | None = None, seed: int = 0,
                    horizon_days: int = 90, candidates: tuple[str, ...] = CANDIDATES,
                    log_figures: bool = True, params: dict | None = None) -> TrainingOutcome:
    """The whole training of one model; see the module docstring."""
    import mlflow
    from mlflow.models import infer_signature

    from shopverse_platform.lib.ml.pyfunc import ScoringModel

    started = time.perf_counter()
    margin = spec.default_margin if margin is None else margin
    fit, tune, validation = split_frame(frame, spec)
    digest = frame_digest(frame)
    rows = {"fit": len(fit), "tune": len(tune), "validation": len(validation)}
    estimators = {name: est for name, est in make_candidates(spec, seed, horizon_days, rows=len(fit)).items() if name in candidates}
    tags = {**origin.tags(), "shopverse.model": spec.name, "shopverse.training_set": spec.training_set,
            "shopverse.training_set_digest": digest}
    with using(target):
        experiment_id = ensure_experiment(target, spec.name)
        with warnings.catch_warnings():
            # MLflow registers its local-file dataset source twice (for the "" and the "file" URI
            # schemes, the same class) and warns that a path "can be interpreted in multiple ways".
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted in multiple ways",
                                    UserWarning)
            # The hint that "integer columns cannot represent missing values" is about a model's
            # inputs at serving time; this schema describes the training set (labels, counts).
            warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer column", UserWarning)
            dataset = mlflow.data.from_pandas(frame, source=dataset_source, name=spec.training_set, targets="label",
                                              digest=digest)
            # MLflow infers the dataset schema value by value over the whole frame (11 s on 200k rows);
            # the column types are the same on a sample, so the cached schema is filled from one.
            dataset.__dict__["schema"] = infer_signature(frame.head(1000)).inputs
        run_name = f"{spec.name}-{origin.dagster_run_id[:8]}"
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as parent:
            mlflow.log_input(dataset, context="training")
            mlflow.log_params({
                "primary_metric": spec.primary_metric, "promotion_margin": margin, "seed": seed,
                "candidates": ",".join(estimators), "features": ",".join(spec.features), "n_features": len(spec.features),
                **{f"rows_{k}": v for k, v in rows.items()}, **(params or {}),
            })
            mlflow.log_metrics({"label_mean_train": float(frame[frame.split == "train"].label.mean()),
                                "label_mean_validation": float(validation.label.mean())})
            # One OpenMP/BLAS thread: on a busy two-core machine, OpenMP's spinning threads made
            # gradient boosting 10-70x slower (measured); the forest still uses every core via joblib.
            with threadpool_limits(limits=1):
                results = {name: _train_candidate(spec, name, est, fit, tune, validation, dataset, tags, seed, log_figures,
                                                  experiment_id)
                           for name, est in estimators.items()}
            selected = _best(spec, results)
            best = results[selected]
            mlflow.set_tag("shopverse.selected_candidate", selected)
            mlflow.log_metrics({k: v for k, v in best.metrics.items() if np.isfinite(v)})
            comparison = {name: r.metrics for name, r in results.items()}
            mlflow.log_dict(comparison, "candidates.json")
            if log_figures:
                mlflow.log_figure(_comparison_figure(spec, results), "plots/candidates.html")
            model = ScoringModel(best.estimator, list(spec.features), spec.kind, best.threshold)
            example = validation[list(spec.features)].head(5).astype("float64")
            info = mlflow.pyfunc.log_model(
                name="model", python_model=model, signature=model_signature(spec), input_example=example,
                conda_env=model_environment(), metadata={"candidate": selected, "features": list(spec.features)},
            )
            gate = register_and_gate(spec, info.model_uri, validation, best.metrics[spec.primary_metric],
                                     checks_passed=checks_passed, margin=margin,
                                     version_tags={**tags, "shopverse.candidate": selected,
                                                   "shopverse.parent_run_id": parent.info.run_id})
            mlflow.set_tags({"shopverse.registered_version": gate.version, "shopverse.alias": gate.alias,
                             "shopverse.gate_reason": gate.reason})
            if gate.champion_metric is not None:
                mlflow.log_metric(f"champion_{spec.primary_metric}", gate.champion_metric)
    return TrainingOutcome(experiment_id, parent.info.run_id, selected, best.metrics, results, info.model_uri, gate,
                           digest, rows, time.perf_counter() - started)


def model_signature(spec: ModelSpec):
    """What every ScoringModel takes and answers: its features as doubles (it casts them so), and
    ``score`` (double) plus, for a classifier, ``label`` (long).

    Declared rather than inferred from an example: inference warns, for the classifiers' integer
    ``label`` output, that integer *inputs* cannot carry missing values, which does not apply."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    outputs = [ColSpec("double", "score")] + ([ColSpec("long", "label")] if spec.kind == "classifier" else [])
    return ModelSignature(inputs=Schema([ColSpec("double", name) for name in spec.features]), outputs=Schema(outputs))


def model_environment() -> dict:
    """The model's conda environment: this Python, pip, and :func:`_requirements`.

    Written out rather than left to MLflow, which pins the ``pip`` installed beside it: uv's .venv
    has none, so every log_model warned "Failed to resolve installed pip version" and wrote this
    same environment with an unpinned ``pip``."""
    return {"name": "mlflow-env", "channels": ["conda-forge"],
            "dependencies": [f"python={platform.python_version()}", "pip", {"pip": _requirements()}]}


def _requirements() -> list[str]:
    """Pinned from the running environment: explicit, so MLflow skips its slow inference."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "cloudpickle")]

