"""Naming rules: one name for each job and dataset, whoever writes or reads it.

An asset's output and its downstream asset's input must be the same node in Marquez, so every
name is computed here, from the asset key and definition-level facts only (never from what a run
happened to produce), and both sides of an edge call the same function.

    job         namespace "shopverse" (configurable)      name "clean_events"
    table       namespace "duckdb://<warehouse name>"     name "main.clean_events"
    file        namespace "file://<host>"                 name "/abs/path/of/the/file"
    model       namespace "mlflow://<tracking server>"    name "churn"  (kind "mlflow", no kind "duckdb")
    report      the files it writes, named as paths in its materialization metadata (kinds html/markdown)

Overrides, for assets that are neither a warehouse table nor a model: definition metadata
``lineage/namespace`` and ``lineage/name`` on the asset.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_JOB_NAMESPACE = "shopverse"
WAREHOUSE_SCHEMA = "main"
MODEL_KINDS = frozenset({"mlflow"})
# Assets of these kinds write files (reports), not a table: their outputs are the files they name.
FILE_KINDS = frozenset({"html", "markdown", "pdf"})
WAREHOUSE_KINDS = frozenset({"duckdb"})
NAMESPACE_OVERRIDE_KEY = "lineage/namespace"
NAME_OVERRIDE_KEY = "lineage/name"

# Fixed namespace for deterministic run ids: the same Dagster run and asset always map to the same
# OpenLineage runId, so START and COMPLETE pair up and a replayed event is recognisably the same.
_RUN_ID_NAMESPACE = uuid.UUID("6f1d2c52-35a4-4c5e-9a8e-2b0c2f7c9d10")


@dataclass(frozen=True, order=True)
class DatasetName:
    namespace: str
    name: str

    @property
    def node_id(self) -> str:
        """The id Marquez's lineage API takes: ``dataset:<namespace>:<name>``."""
        return f"dataset:{self.namespace}:{self.name}"


def job_name(asset_path: Sequence[str]) -> str:
    """An asset's job: its key path joined by dots (``clean_events``, ``metrics.daily_revenue``)."""
    return ".".join(asset_path)


def table_name(asset_path: Sequence[str]) -> str:
    """Asset keys follow the warehouse path: the last part of the key is the table."""
    return f"{WAREHOUSE_SCHEMA}.{asset_path[-1]}"


def warehouse_namespace(warehouse_uri: str) -> str:
    """``duckdb://<warehouse name>``, exactly what the Warehouse resource reports (``lineage_namespace``)."""
    return warehouse_uri


def lineage_namespace(warehouse_name: str) -> str:
    """The namespace of a warehouse's tables: its logical name (``duckdb://shopverse``), never a
    machine-local path. Before December 2026 it was ``duckdb://<absolute path of the file>``
    (docs/lineage.md, "Naming rules": the migration note)."""
    if not warehouse_name or any(c in warehouse_name for c in "/:@?#\\ "):
        raise ValueError(f"a warehouse name for lineage is one word (letters, digits, '-', '_', '.'), got {warehouse_name!r}: "
                         "set SHOPVERSE_WAREHOUSE_NAME")
    return f"duckdb://{warehouse_name}"


def file_namespace(host: str | None = None) -> str:
    return f"file://{host or socket.gethostname()}"


def file_dataset(path: str | Path, host: str | None = None) -> DatasetName:
    return DatasetName(file_namespace(host), str(Path(path).resolve()))


def mlflow_namespace(tracking_uri: str | None) -> str:
    """Where models are registered: ``mlflow://host:port`` for a tracking server,
    ``mlflow://localhost/abs/path/mlflow.db`` for a local store, ``mlflow://local`` when unknown."""
    if not tracking_uri:
        return "mlflow://local"
    if tracking_uri.startswith("databricks"):
        profile = tracking_uri.partition("://")[2]
        return f"mlflow://databricks{('-' + profile) if profile else ''}"
    parsed = urlparse(tracking_uri)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return f"mlflow://{parsed.netloc}"
    if parsed.scheme == "sqlite":  # sqlite:///relative.db, sqlite:////absolute.db
        return f"mlflow://localhost{Path(parsed.path[1:] or '.').resolve()}"
    if parsed.scheme == "file":
        return f"mlflow://localhost{Path(parsed.path).resolve()}"
    if parsed.scheme:  # a database-backed store: postgresql://user@host:port/db
        return f"mlflow://{parsed.hostname or 'localhost'}{parsed.path}"
    return f"mlflow://localhost{Path(tracking_uri).resolve()}"  # a plain directory (./mlruns)


def is_model(kinds: Sequence[str] | frozenset[str]) -> bool:
    """A trained model: kind "mlflow" and no warehouse kind (scores are tables that *use* a model)."""
    return bool(MODEL_KINDS & set(kinds)) and not (WAREHOUSE_KINDS & set(kinds))


def writes_files(kinds: Sequence[str] | frozenset[str], metadata: Mapping[str, object] | None = None) -> bool:
    """A report-like asset: file kinds, no warehouse kind, no explicit dataset override."""
    metadata = metadata or {}
    overridden = bool(_text(metadata.get(NAMESPACE_OVERRIDE_KEY)) and _text(metadata.get(NAME_OVERRIDE_KEY)))
    return bool(FILE_KINDS & set(kinds)) and not (WAREHOUSE_KINDS & set(kinds)) and not is_model(kinds) and not overridden


def asset_dataset(
    asset_path: Sequence[str],
    *,
    kinds: Sequence[str] | frozenset[str] = (),
    metadata: Mapping[str, object] | None = None,
    warehouse_uri: str,
    mlflow_tracking_uri: str | None = None,
) -> DatasetName:
    """The dataset an asset writes, which is also the dataset its downstream assets read."""
    metadata = metadata or {}
    namespace = _text(metadata.get(NAMESPACE_OVERRIDE_KEY))
    name = _text(metadata.get(NAME_OVERRIDE_KEY))
    if namespace and name:
        return DatasetName(namespace, name)
    if is_model(kinds):
        return DatasetName(mlflow_namespace(mlflow_tracking_uri), job_name(asset_path))
    return DatasetName(warehouse_namespace(warehouse_uri), table_name(asset_path))


def run_id(dagster_run_id: str, asset_path: Sequence[str], attempt: int = 0) -> str:
    """A stable OpenLineage runId for one asset in one Dagster run (and one retry attempt)."""
    return str(uuid.uuid5(_RUN_ID_NAMESPACE, f"{dagster_run_id}/{job_name(asset_path)}/{attempt}"))


def _text(value: object) -> str | None:
    """Definition metadata arrives either raw or wrapped in a Dagster MetadataValue."""
    if value is None:
        return None
    inner = getattr(value, "value", value)
    return str(inner) if inner else None
