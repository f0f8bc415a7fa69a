"""Batch scoring with each model's champion (``models:/<name>@champion``), as of the latest data."""

from datetime import date, timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.checks import Check
from shopverse_platform.defs.ml.common import ML
from shopverse_platform.defs.ml.resources import MlflowTracking
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.ml import features
from shopverse_platform.lib.ml.specs import CHURN, CLV, PROPENSITY, ModelSpec
from shopverse_platform.lib.segmentation.tables import write_frame


class ScoringConfig(dg.Config):
    as_of_date: str | None = Field(default=None, description="Score with features as of this day (YYYY-MM-DD). Unset: the last day of data.")
    order_source: str | None = Field(default=None, description="Customer models: only orders of this source. Unset: all.")
    lookback_days: int = Field(default=28, description="Propensity: visitors seen in this many days up to the as-of day.")


def score_frame(spec: ModelSpec, frame: pd.DataFrame, model, version, as_of: date) -> pd.DataFrame:
    """The scores table of ``frame`` (features per entity) under the loaded champion ``model``."""
    predictions = model.predict(frame[list(spec.features)].astype("float64")) if len(frame) else pd.DataFrame({"score": []})
    out = pd.DataFrame({spec.entity_column: frame.entity_id.astype(str), "as_of_date": pd.Series([as_of] * len(frame), dtype="object")})
    out[spec.score_column] = predictions["score"].to_numpy(dtype="float64")
    if spec.kind == "classifier":
        out["predicted_label"] = (predictions["label"].to_numpy(dtype="int64") if len(frame) else pd.Series([], dtype="int64"))
    out["model_name"] = spec.name
    out["model_version"] = str(version) if version is not None else None
    return out


def _score(context: dg.AssetExecutionContext, spec: ModelSpec, config: ScoringConfig, warehouse: Warehouse,
           mlflow_tracking: MlflowTracking):
    from mlflow import MlflowClient

    from shopverse_platform.lib.ml.registry import champion_uri, current_version
    from shopverse_platform.lib.ml.tracking import using

    with warehouse.connect() as con:
        as_of = date.fromisoformat(config.as_of_date) if config.as_of_date else features.last_day(con, spec, config.order_source)
        frame = (features.scoring_frame(con, spec, as_of + timedelta(days=1), config.order_source, config.lookback_days)
                 if as_of else pd.DataFrame({"entity_id": [], **{f: [] for f in spec.features}}))
        with using(mlflow_tracking.target()):
            champion = current_version(MlflowClient(), spec.name)
            if champion is None:
                model = None
            else:
                import mlflow.pyfunc

                model = mlflow.pyfunc.load_model(champion_uri(spec.name))
        kept = _stored_rows(con, spec.scores) if model is None else 0
        if kept:
            # The registry has no champion although scores exist (a registry reset or moved, a
            # wrong MLFLOW_TRACKING_URI): keep the last good scores rather than replace them by an
            # empty table and report success.
            context.log.warning(f"{spec.name}: no champion in the registry at {mlflow_tracking.resolved_registry_uri()}; "
                                f"kept the previous {kept:,} rows of {spec.scores}")
            yield dg.MaterializeResult(metadata={
                **table_metadata(con, spec.scores), "kept_previous_scores": True,
                "model_uri": champion_uri(spec.name), "model_version": "none"})
            # a warning, not an error: the kept scores are valid, they are only not new
            yield scores_valid(spec).result((False, {"kept_previous_scores": kept, "reason": "no champion in the registry"}),
                                            warn=True)
            return
        if model is None:
            context.log.warning(f"{spec.name}: no champion registered yet; {spec.scores} is empty")
        scores = (score_frame(spec, frame, model, champion.version, as_of) if model is not None
                  else score_frame(spec, frame.head(0), None, None, as_of))
        write_frame(con, spec.scores, scores)
        bad = con.execute(
            f"SELECT count(*) FROM {spec.scores} WHERE {spec.score_column} IS NULL OR isnan({spec.score_column}) OR {spec.score_column} < 0"
            + (f" OR {spec.score_column} > 1" if spec.kind == "classifier" else "")).fetchone()[0]
        repeated = len(scores) - scores[spec.entity_column].nunique()
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, spec.scores), "as_of_date": str(as_of), "model_uri": champion_uri(spec.name),
            "model_version": str(champion.version) if champion else "none",
            f"mean_{spec.score_column}": float(scores[spec.score_column].mean()) if len(scores) else 0.0,
        })
        # evaluated by the asset: repeated entities are counted in the frame it has just scored
        yield scores_valid(spec).result(
            (bad == 0 and repeated == 0, {"invalid_scores": int(bad), "repeated_entities": int(repeated), "rows": len(scores)}))


def _stored_rows(con, table: str) -> int:
    """Rows of a scores table already in the warehouse (0 when it was never built)."""
    from shopverse_platform.lib.warehouse.tables import table_exists

    return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]) if table_exists(con, table) else 0


def scores_valid(spec: ModelSpec) -> Check:
    valid = "in [0, 1]" if spec.kind == "classifier" else "non-negative"
    return Check(spec.scores, "valid", f"One score per {spec.entity}, every score {valid}.")


def _asset_args(spec: ModelSpec, data: str) -> dict:
    return {"name": spec.scores, **ML.whole_history([spec.name, data], kinds={"duckdb", "mlflow"}, eager=False),
            "check_specs": [scores_valid(spec).spec()]}


@dg.asset(**_asset_args(CHURN, "orders"))
def churn_scores(context: dg.AssetExecutionContext, config: ScoringConfig, warehouse: Warehouse, mlflow_tracking: MlflowTracking):
    """Every customer with an order, scored by `models:/churn@champion` on features as of the last
    day with orders: `churn_probability` (no order within the model's window) and the predicted
    label at the champion's threshold. Empty until a champion exists."""
    yield from _score(context, CHURN, config, warehouse, mlflow_tracking)


@dg.asset(**_asset_args(CLV, "orders"))
def clv_scores(context: dg.AssetExecutionContext, config: ScoringConfig, warehouse: Warehouse, mlflow_tracking: MlflowTracking):
    """Every customer with an order, scored by `models:/customer_lifetime_value@champion` on
    features as of the last day with orders: `predicted_revenue`, the expected net revenue over
    the model's horizon. Empty until a champion exists."""
    yield from _score(context, CLV, config, warehouse, mlflow_tracking)


@dg.asset(**_asset_args(PROPENSITY, "clean_events"))
def propensity_scores(context: dg.AssetExecutionContext, config: ScoringConfig, warehouse: Warehouse,
                      mlflow_tracking: MlflowTracking):
    """Every visitor seen in the last 28 days, scored by `models:/purchase_propensity@champion` on
    features as of the last day with events: `purchase_probability` (purchase within the model's
    window) and the predicted label at the champion's threshold. Empty until a champion exists."""
    yield from _score(context, PROPENSITY, config, warehouse, mlflow_tracking)
