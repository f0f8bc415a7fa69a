"""The `lineage` resource: where OpenLineage events go, read at run time.

Every field falls back to the environment when the step runs (never at import time), then to the
embedded default: no backend configured means events are written to ``data/lineage/events.ndjson``.
"""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field, PrivateAttr

from shopverse_platform.lib.lineage.emitter import LineageEmitter, LineageSettings


class OpenLineageResource(dg.ConfigurableResource):
    """OpenLineage emission for every asset materialization (see docs/lineage.md)."""

    url: str | None = Field(
        default=None,
        description="OpenLineage backend base URL, e.g. a Marquez at http://127.0.0.1:5000. "
        "Unset: $OPENLINEAGE_URL; unset too: events go to <data>/lineage/events.ndjson.",
    )
    namespace: str | None = Field(
        default=None, description="Job namespace. Unset: $OPENLINEAGE_NAMESPACE, else 'shopverse'."
    )
    directory: str | None = Field(
        default=None, description="Directory of events.ndjson and the HTTP buffer. Unset: <data>/lineage."
    )
    timeout_seconds: float = Field(default=5.0, description="HTTP timeout per event.")
    retry_after_seconds: float = Field(
        default=60.0,
        description="After a failed post, buffer without trying the backend for this long.",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="Names the mlflow:// namespace of model datasets when the step has no `mlflow_tracking` "
        "resource. Unset: $MLFLOW_REGISTRY_URI, else $MLFLOW_TRACKING_URI.",
    )
    dagster_ui_url: str | None = Field(
        default=None, description="Base URL of the Dagster UI, to link each run from its lineage events."
    )
    parent_facet: bool = Field(
        default=False,
        description="Also emit the standard `parent` run facet. Off by default: Marquez then files every "
        "asset job under the launching Dagster job (`__ASSET_JOB.clean_events`), one job per launcher.",
    )
    enabled: bool = Field(default=True, description="False: emit nothing (as does $OPENLINEAGE_DISABLED=true).")

    _emitter: LineageEmitter | None = PrivateAttr(default=None)

    def settings(self) -> LineageSettings:
        # The API key is a secret: environment only ($OPENLINEAGE_API_KEY), never run config.
        return LineageSettings.resolve(
            url=self.url, namespace=self.namespace, directory=self.directory,
            timeout_seconds=self.timeout_seconds, retry_after_seconds=self.retry_after_seconds,
        )

    def emitter(self) -> LineageEmitter:
        if self._emitter is None:
            self._emitter = LineageEmitter(self.settings())
        return self._emitter

    def resolved_mlflow_tracking_uri(self) -> str | None:
        return self.mlflow_tracking_uri or os.environ.get("MLFLOW_REGISTRY_URI") or os.environ.get("MLFLOW_TRACKING_URI")

    def run_url(self, run_id: str) -> str | None:
        return f"{self.dagster_ui_url.rstrip('/')}/runs/{run_id}" if self.dagster_ui_url else None


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"lineage": OpenLineageResource()})
