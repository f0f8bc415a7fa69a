"""Model training assets: every candidate trained and compared in MLflow, the best registered,
and the registry gate deciding between `champion` and `challenger` (lib/ml/registry.py)."""

import dagster as dg
import pandas as pd
from pydantic import Field

from shopverse_platform.defs.checks import Check
from shopverse_platform.defs.ml.common import (
    ML,
    code_version,
    recorded_check_status,
    with_code_version,
)
from shopverse_platform.defs.ml.resources import MlflowTracking
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.ml import checks, features
from shopverse_platform.lib.ml.specs import (
    CANDIDATES,
    CHURN,
    CLV,
    PROPENSITY,
    ModelSpec,
)
from shopverse_platform.lib.segmentation.tables import markdown_table


class ModelTrainingConfig(dg.Config):
    promotion_margin: float | None = Field(
        default=None,
        description="How much the new model must beat the champion by on the same holdout. Unset: the model's default "
        "(ROC-AUC +0.005 for the classifiers; RMSE 1 % lower for lifetime value).",
    )
    seed: int = Field(default=0, description="Random seed of every candidate.")
    candidates: list[str] = Field(default=list(CANDIDATES), description="Candidates to train, from: " + ", ".join(CANDIDATES))
    log_figures: bool = Field(default=True, description="Log the plotly figures of every candidate.")


def beats_baseline(spec: ModelSpec) -> Check:
    return Check(spec.name, "beats_baseline", "The selected candidate beats the naive baseline on the validation split.",
                 warn=True)


def _checks_passed(context: dg.AssetExecutionContext, spec: ModelSpec, con) -> tuple[bool, dict]:
    """The training set's checks as this Dagster instance recorded them; checks never recorded
    here (a set built elsewhere) are evaluated now on the table."""
    status = recorded_check_status(context.instance, spec.training_set)
    missing = [name for name, passed in status.items() if passed is None]
    if missing:
        evaluated = checks.run_checks(con, spec)
        status.update({name: bool(evaluated[name][0]) for name in missing})
    return all(status.values()), {"recorded": [n for n in status if n not in missing], "evaluated_now": missing,
                                  "failed": [n for n, ok in status.items() if not ok]}


def _train(context: dg.AssetExecutionContext, spec: ModelSpec, config: ModelTrainingConfig, warehouse: Warehouse,
           mlflow_tracking: MlflowTracking):
    from shopverse_platform.lib.ml.tracking import RunOrigin
    from shopverse_platform.lib.ml.training import train_and_track

    with warehouse.connect(read_only=True) as con:
        frame = features.load_training_set(con, spec)
        passed, detail = _checks_passed(context, spec, con)
    train = frame[frame.split == "train"]
    if len(train) == 0 or frame[frame.split == "validation"].empty or (spec.kind == "classifier" and train.label.nunique() < 2):
        context.log.warning(f"{spec.name}: the training set cannot train a model; nothing logged or registered")
        yield dg.MaterializeResult(metadata={"skipped": "training set has an empty split or a single class"})
        # an ERROR, not a warning: there is no model at all
        yield beats_baseline(spec).result((False, {"skipped": "no model trained"}), warn=False)
        return
    horizon = int((frame.label_end_date.iloc[0] - frame.cutoff_date.iloc[0]).days)
    origin = RunOrigin(context.run_id, context.asset_key.to_user_string(),
                       context.partition_key if context.has_partition_key else None, code_version())
    outcome = train_and_track(
        spec, frame, mlflow_tracking.target(), origin,
        dataset_source=warehouse.describe(), checks_passed=passed, margin=config.promotion_margin,
        seed=config.seed, horizon_days=horizon, candidates=tuple(config.candidates), log_figures=config.log_figures,
        params={"window_days": horizon, "training_cutoff": str(frame[frame.split == "train"].cutoff_date.iloc[0].date()),
                "validation_cutoff": str(frame[frame.split == "validation"].cutoff_date.iloc[0].date())},
    )
    table = markdown_table(pd.DataFrame([{"candidate": n, **{k: round(v, 4) for k, v in r.metrics.items()}}
                                         for n, r in outcome.candidates.items()]))
    gate = outcome.gate
    context.log.info(f"{spec.name}: selected {outcome.selected}; version {gate.version} -> {gate.alias} ({gate.reason})")
    yield dg.MaterializeResult(metadata={
        "experiment_id": outcome.experiment_id, "parent_run_id": outcome.parent_run_id,
        "tracking_uri": mlflow_tracking.resolved_tracking_uri(), "model_uri": outcome.model_uri,
        "selected_candidate": outcome.selected, spec.primary_metric: float(outcome.metrics[spec.primary_metric]),
        "registered_model": spec.name, "registered_version": gate.version, "alias": gate.alias, "gate_reason": gate.reason,
        "training_set_checks": dg.MetadataValue.json(detail), "training_set_digest": outcome.digest,
        "candidates": dg.MetadataValue.md(table), "seconds": round(outcome.seconds, 2),
    })
    baseline = outcome.candidates.get("baseline")
    if baseline is None:
        yield beats_baseline(spec).result((True, {"skipped": "no baseline trained"}), warn=False)
        return
    best, naive = outcome.metrics[spec.primary_metric], baseline.metrics[spec.primary_metric]
    better = best > naive if spec.higher_is_better else best < naive
    yield beats_baseline(spec).result((better, {"selected": outcome.selected, f"selected_{spec.primary_metric}": float(best),
                                                f"baseline_{spec.primary_metric}": float(naive)}))


def _asset_args(spec: ModelSpec) -> dict:
    return {"name": spec.name, **ML.whole_history([spec.training_set], kinds={"mlflow", "scikit-learn"}, eager=False),
            "check_specs": [beats_baseline(spec).spec()]}


@dg.asset(**_asset_args(CHURN))
def churn(context: dg.AssetExecutionContext, config: ModelTrainingConfig, warehouse: Warehouse, mlflow_tracking: MlflowTracking):
    """Churn model (will a customer with past purchases not buy again within the window?): naive
    recency baseline, logistic regression, random forest and histogram gradient boosting trained on
    `churn_training_set`, compared on its later validation cutoff (ROC-AUC, PR-AUC, F1 at the
    F1-best threshold, Brier) in MLflow experiment `shopverse/churn`; the best is registered as
    `churn` and becomes `champion` only if it beats the current one by the margin and the
    training set's checks passed, else `challenger`."""
    yield from _train(context, CHURN, config, warehouse, mlflow_tracking)


@dg.asset(**_asset_args(CLV))
def customer_lifetime_value(context: dg.AssetExecutionContext, config: ModelTrainingConfig, warehouse: Warehouse,
                            mlflow_tracking: MlflowTracking):
    """Lifetime-value model (net revenue over the next period): naive past-spend-rate baseline,
    Poisson regression, random forest and Poisson histogram gradient boosting on RFM features from
    `clv_training_set`, compared on its later validation cutoff (MAE, RMSE, R², Spearman, top-decile
    share, total error) in MLflow experiment `shopverse/customer_lifetime_value`; registered as
    `customer_lifetime_value` with the champion/challenger gate on RMSE."""
    yield from _train(context, CLV, config, warehouse, mlflow_tracking)


@dg.asset(**_asset_args(PROPENSITY))
def purchase_propensity(context: dg.AssetExecutionContext, config: ModelTrainingConfig, warehouse: Warehouse,
                        mlflow_tracking: MlflowTracking):
    """Purchase-propensity model (will a visitor or customer purchase in the next 7 days?): naive
    days-since-last-cart baseline, logistic regression, random forest and histogram gradient
    boosting on `propensity_training_set`, compared on its later validation cutoff in MLflow
    experiment `shopverse/purchase_propensity`; registered as `purchase_propensity` with the
    champion/challenger gate on ROC-AUC."""
    yield from _train(context, PROPENSITY, config, warehouse, mlflow_tracking)


@dg.definitions
def models() -> dg.Definitions:
    return dg.Definitions(assets=with_code_version([churn, customer_lifetime_value, purchase_propensity]))
