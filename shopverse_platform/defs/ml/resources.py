"""MLflow tracking and registry as a resource: a local SQLite store under data/ by default, a real
MLflow server when configured (field, else ``$MLFLOW_TRACKING_URI``), read at run time."""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from shopverse_platform.lib import paths
from shopverse_platform.lib.ml.tracking import TrackingTarget, ensure_local_store

REMOTE_SCHEMES = ("http://", "https://", "databricks")


class MlflowTracking(dg.ConfigurableResource):
    """Where model training logs runs and registers models, and where scoring loads champions."""

    tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI. Unset: $MLFLOW_TRACKING_URI, else sqlite:///<data>/mlflow/mlflow.db.",
    )
    registry_uri: str | None = Field(
        default=None, description="Model registry URI. Unset: $MLFLOW_REGISTRY_URI, else the tracking URI."
    )
    artifact_location: str | None = Field(
        default=None,
        description="Artifact root for a local (non-server) store. Unset: $SHOPVERSE_MLFLOW_ARTIFACTS, else "
        "<data>/mlflow/artifacts. A tracking server keeps artifacts at its own --artifacts-destination.",
    )

    def resolved_tracking_uri(self) -> str:
        configured = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if configured:
            return configured
        store = paths.data_dir() / "mlflow" / "mlflow.db"
        store.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{store}"

    def resolved_registry_uri(self) -> str:
        return self.registry_uri or os.environ.get("MLFLOW_REGISTRY_URI") or self.resolved_tracking_uri()

    def is_server(self) -> bool:
        return self.resolved_tracking_uri().startswith(REMOTE_SCHEMES)

    def resolved_artifact_location(self) -> Path | None:
        return None if self.is_server() else self._local_artifact_root()

    def _local_artifact_root(self) -> Path:
        configured = self.artifact_location or os.environ.get("SHOPVERSE_MLFLOW_ARTIFACTS")
        return Path(configured).resolve() if configured else paths.data_dir() / "mlflow" / "artifacts"

    def target(self) -> TrackingTarget:
        """Where training and scoring track; a local store is created here, whole (readers such as
        the reports only look, and say "no model trained yet" when there is no store)."""
        location = self.resolved_artifact_location()
        uri = self.resolved_tracking_uri()
        if location is not None and uri.startswith("sqlite:///"):
            ensure_local_store(Path(uri.removeprefix("sqlite:///")), location)
        return TrackingTarget(uri, self.resolved_registry_uri(), str(location) if location else None)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"mlflow_tracking": MlflowTracking()})
