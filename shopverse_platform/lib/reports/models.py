"""Model performance for the reports, read from the MLflow model registry the ML layer writes.

For each model: the version holding the ``champion`` alias and the newest version (when it is not
the champion, e.g. a challenger that did not beat it), each with its primary validation metric
(the ``shopverse.<metric>`` tag the registry gate sets). Nothing here creates an MLflow store: a
local store that does not exist yet, or a server that does not answer, leaves the section
"not available yet".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

COLUMNS = ["model", "version", "alias", "metric", "value", "is_champion", "registered"]


def _local_store(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def registry_reachable(uri: str, timeout: float = 2.0) -> str | None:
    """None when the registry can be read, else why not."""
    store = _local_store(uri)
    if store is not None:
        return None if store.exists() else f"not available yet: no model has been trained (no MLflow store at {store})"
    if uri.startswith(("http://", "https://")):
        import requests

        try:
            requests.get(f"{uri.rstrip('/')}/health", timeout=timeout).raise_for_status()
        except requests.RequestException as error:
            return f"not available: the MLflow server at {uri} does not answer ({type(error).__name__})"
    return None


def load_models(tracking_uri: str, registry_uri: str, models: Sequence[tuple[str, str]]) -> tuple[pd.DataFrame | None, str | None]:
    """(frame, None) or (None, why not). ``models``: (registered model name, primary metric)."""
    unreachable = registry_reachable(registry_uri)
    if unreachable:
        return None, unreachable
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    rows = []
    for name, metric in models:
        try:
            aliases = client.get_registered_model(name).aliases or {}  # alias -> version
            versions = client.search_model_versions(f"name = '{name}'")
        except MlflowException:
            continue
        if not versions:
            continue
        by_version: dict[str, list[str]] = {}
        for alias, number in aliases.items():
            by_version.setdefault(str(number), []).append(alias)
        newest = max(versions, key=lambda v: int(v.version))
        shown = [v for v in versions if "champion" in by_version.get(str(v.version), [])]
        if newest not in shown:
            shown.append(newest)
        for version in shown:
            value = version.tags.get(f"shopverse.{metric}")
            labels = sorted(by_version.get(str(version.version), []))
            rows.append({
                "model": name, "version": str(version.version), "alias": ", ".join(labels) or "-",
                "metric": metric, "value": float(value) if value not in (None, "") else None,
                "is_champion": "champion" in labels,
                "registered": datetime.fromtimestamp(version.creation_timestamp / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M"),
            })
    if not rows:
        return None, "not available yet: no model is registered"
    return pd.DataFrame(rows, columns=COLUMNS), None
