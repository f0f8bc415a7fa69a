"""The weekly behaviour-cluster fit tracked in MLflow, in experiment ``shopverse/behaviour_clusters``
like the other models: one run per fit with k and the features as params, the silhouette of every
k tried as metrics, and the fitted model (scaling, centres, names) and the profiles as JSON
artifacts; under it, one candidate run per k tried (its silhouette), so the MLflow UI compares
the candidates of a fit as it does the other models' (tag ``shopverse.candidate``). Not registered: the daily step applies the model stored in the warehouse
(lib/segmentation/cluster_store.py), which carries this run's id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shopverse_platform.lib.ml.tracking import RunOrigin, TrackingTarget, ensure_experiment, using
from shopverse_platform.lib.segmentation.clusters import Clustering

CLUSTER_MODEL = "behaviour_clusters"


@dataclass(frozen=True)
class TrackedFit:
    experiment_id: str
    run_id: str


def track_cluster_fit(clustering: Clustering, target: TrackingTarget, origin: RunOrigin, *, as_of: date,
                      customers: int, params: dict | None = None) -> TrackedFit:
    """Log one MLflow run for ``clustering`` (fitted on ``customers`` customers as of ``as_of``)."""
    import mlflow

    with using(target):
        experiment_id = ensure_experiment(target, CLUSTER_MODEL)
        tags = {**origin.tags(), "shopverse.model": CLUSTER_MODEL}
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"{CLUSTER_MODEL}-{origin.dagster_run_id[:8]}",
                              tags=tags) as run:
            mlflow.log_params({"k": clustering.k, "features": ",".join(clustering.features),
                               "n_features": len(clustering.features), "customers": customers,
                               "as_of_date": str(as_of), **(params or {})})
            # silhouette_k<k> for each k tried (one chart per k), and the chosen k's as `silhouette`;
            # also as one series stepped by k, which MLflow draws as the silhouette curve
            mlflow.log_metrics({f"silhouette_k{k}": v for k, v in clustering.silhouette_by_k.items()})
            mlflow.log_metric("silhouette", clustering.silhouette_by_k[clustering.k])
            for k, value in sorted(clustering.silhouette_by_k.items()):
                mlflow.log_metric("silhouette_by_k", value, step=k)
            mlflow.log_dict(clustering.model.to_dict(), "cluster_model.json")
            mlflow.log_dict(clustering.profiles.to_dict(orient="records"), "profiles.json")
            for k, value in sorted(clustering.silhouette_by_k.items()):
                with mlflow.start_run(experiment_id=experiment_id, run_name=f"k={k}", nested=True,
                                      tags={**tags, "shopverse.candidate": f"k={k}",
                                            "shopverse.selected": str(k == clustering.k).lower()}):
                    mlflow.log_params({"k": k, "features": ",".join(clustering.features), "customers": customers})
                    mlflow.log_metric("silhouette", value)
    return TrackedFit(experiment_id, run.info.run_id)
