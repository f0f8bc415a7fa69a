"""The fitted behaviour-cluster model in the warehouse, table ``behaviour_cluster_model``.

The weekly step fits the clusters and stores the model here (and in MLflow); the daily step reads
it back with plain SQL and only assigns today's customers to its centres (issue 14). One row per
cluster: the centre in scaled units, and on every row the scaling (features, signed-log mean and
standard deviation) and the facts of the fit (when, as of which day, by which asset, k, silhouette).
The table holds one model: a new fit replaces it (the history of fits is in MLflow).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import numpy as np

from shopverse_platform.lib.segmentation.clusters import Clustering, ClusterModel
from shopverse_platform.lib.segmentation.tables import build_table
from shopverse_platform.lib.warehouse.sql import load_sql, table
from shopverse_platform.lib.warehouse.tables import table_exists

MODEL_TABLE = "behaviour_cluster_model"


@dataclass(frozen=True)
class StoredModel:
    """A model as the warehouse holds it, with the facts of its fit."""

    model: ClusterModel
    fitted_at: datetime
    as_of_date: date
    fitted_by: str
    silhouette: float
    customers_fitted: int
    mlflow_run_id: str | None


def store_model(con: duckdb.DuckDBPyConnection, clustering: Clustering, *, as_of: date, fitted_at: datetime,
                fitted_by: str, customers: int, mlflow_run_id: str | None = None) -> int:
    """Replace the stored model by ``clustering``'s; returns the rows written (one per cluster)."""
    model = clustering.model
    clusters = sorted(model.names)
    params = {
        "fitted_at": fitted_at, "as_of_date": as_of, "fitted_by": fitted_by, "k": model.k,
        "clusters": clusters, "names": [model.names[c] for c in clusters],
        "centres": [model.centres[c].tolist() for c in clusters],
        "features": list(model.features), "feature_mean": model.mean.tolist(), "feature_std": model.std.tolist(),
        "silhouette": clustering.silhouette_by_k[clustering.k], "customers": customers, "mlflow_run_id": mlflow_run_id,
    }
    return build_table(con, MODEL_TABLE, load_sql(__file__, "cluster_model_rows"), params)


def load_model(con: duckdb.DuckDBPyConnection) -> StoredModel | None:
    """The newest stored model, or None when none was stored yet."""
    if not table_exists(con, MODEL_TABLE):
        return None
    rows = con.execute(load_sql(__file__, "stored_cluster_model", model=table(MODEL_TABLE))).fetchall()
    if not rows:
        return None
    (fitted_at, as_of_date, fitted_by, k, _, _, _, features, mean, std, silhouette, customers, run_id) = rows[0]
    if [r[4] for r in rows] != list(range(k)):
        raise ValueError(f"{MODEL_TABLE}: clusters {[r[4] for r in rows]} are not 0..{k - 1}; refit the model")
    model = ClusterModel(features=list(features), mean=np.asarray(mean, dtype="float64"),
                         std=np.asarray(std, dtype="float64"),
                         centres=np.asarray([r[6] for r in rows], dtype="float64"),
                         names={int(r[4]): r[5] for r in rows})
    return StoredModel(model, fitted_at, as_of_date, fitted_by, float(silhouette), int(customers), run_id)
