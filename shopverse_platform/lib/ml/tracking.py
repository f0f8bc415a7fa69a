"""MLflow plumbing: where to track, how a run is tied to Dagster, experiments and datasets."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shopverse_platform.lib.paths import PROJECT_ROOT

EXPERIMENT_PREFIX = "shopverse"


@dataclass(frozen=True)
class TrackingTarget:
    """Where runs and models go. ``artifact_location`` is set for a local store (artifacts under
    data/), and None for a tracking server, which proxies artifacts to its own destination."""

    tracking_uri: str
    registry_uri: str
    artifact_location: str | None = None


@dataclass(frozen=True)
class RunOrigin:
    """What ties an MLflow run to the Dagster materialization that made it."""

    dagster_run_id: str
    asset_key: str
    partition: str | None
    code_version: str | None

    def tags(self) -> dict[str, str]:
        return {
            "dagster.run_id": self.dagster_run_id,
            "dagster.asset_key": self.asset_key,
            "dagster.partition": self.partition or "unpartitioned",
            "dagster.code_version": self.code_version or "unknown",
            "shopverse.git_commit": git_commit(),
        }


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def source_digest(*folders: Path) -> str:
    """A short hash of the Python sources in ``folders``: the code version of the model assets."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def frame_digest(frame: pd.DataFrame) -> str:
    """A digest of a whole DataFrame's content (row order included), unlike MLflow's default
    digest of a sample."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]


# MLflow log lines that tell an operator nothing to act on, each once per model in every training:
# a 60-day demo printed 36 of them to stderr beside 18 lines of Dagster's own. Each is quietened at
# its own logger, so warnings from everywhere else in MLflow still show.
_MLFLOW_LOGGER_LEVELS = {
    # "Creating initial MLflow database tables..." / "Updating database tables": the local store
    # being created (ensure_local_store), once per data directory.
    "mlflow.store.db.utils": logging.WARNING,
    # "Detected uv project ..." / "Copied uv.lock (pyproject.toml) to model artifacts": every model
    # version carries the project's uv.lock and pyproject.toml, by design. A failed copy is a WARNING.
    "mlflow.utils.uv_utils": logging.WARNING,
    # "Validating input example against model signature": log_model's routine check; a mismatch is
    # logged as a WARNING and still shows.
    "mlflow.pyfunc": logging.WARNING,
}
# Warnings that do not apply here, dropped by message (the rest of their logger still shows).
_MLFLOW_DROPPED_WARNINGS = {
    # log_model warns that a Python object as `python_model` is pickled (CloudPickle) and suggests
    # models-from-code. Our ScoringModel wraps a fitted scikit-learn estimator, which is a pickle
    # however it is stored (mlflow.sklearn pickles it too; models-from-code would load it from a
    # pickled artifact), and the registry is written and read by this platform only.
    "mlflow.pyfunc": ("Passing a Python object as `python_model`",),
}


class _DropMessages(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


def quiet_mlflow_logging() -> None:
    """Apply ``_MLFLOW_LOGGER_LEVELS`` and ``_MLFLOW_DROPPED_WARNINGS`` (idempotent; per process, so
    each Dagster step process calls it through :func:`using`). ``MLFLOW_LOGGING_LEVEL=DEBUG`` (or
    INFO) set by the user shows everything again."""
    if os.environ.get("MLFLOW_LOGGING_LEVEL", "").upper() in ("DEBUG", "INFO"):
        return
    for name, level in _MLFLOW_LOGGER_LEVELS.items():
        logging.getLogger(name).setLevel(level)
    for name, prefixes in _MLFLOW_DROPPED_WARNINGS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(prefixes))


@contextmanager
def mlflow_output_muted() -> Iterator[None]:
    """Mute MLflow's console output (its ``eprint`` notes and log handler) for the block; errors
    still raise. MLflow's own switch (``disable_logging``), restored to what it was."""
    from mlflow.utils import logging_utils

    was_enabled = logging_utils.MLFLOW_LOGGING_STREAM.enabled
    logging_utils.disable_logging()
    try:
        yield
    finally:
        if was_enabled:
            logging_utils.enable_logging()


# MLflow's HTTP client retries a request 7 times with a backoff factor of 2 and waits up to 120 s
# for each answer: with the tracking server down, the weekly job spent 752 s in retries before it
# failed. Inside `using`, unless the user set them, requests retry twice and wait 15 s at most,
# and a server that does not answer its health check fails the step at once with what to do.
BOUNDED_HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}
HEALTH_DEADLINE_SECONDS = 10.0


class TrackingUnavailable(RuntimeError):
    """The MLflow tracking server does not answer: nothing is trained, registered or scored."""


def check_reachable(target: TrackingTarget, deadline: float = HEALTH_DEADLINE_SECONDS) -> None:
    """For a tracking server, one GET of its ``/health`` within ``deadline`` seconds, or raise."""
    if not target.tracking_uri.startswith(("http://", "https://")):
        return
    import requests

    url = target.tracking_uri.rstrip("/") + "/health"
    try:
        response = requests.get(url, timeout=deadline)
        response.raise_for_status()
    except requests.RequestException as error:
        raise TrackingUnavailable(
            f"MLflow tracking server {target.tracking_uri} does not answer ({type(error).__name__}: {error}). "
            "Start it (shopverse up), or unset MLFLOW_TRACKING_URI to use the local store under data/mlflow; "
            "previous models, scores and tables are left as they were."
        ) from error


# Tables every complete MLflow store has (tracking and registry); a store holding some of them but
# not all was interrupted while MLflow created it.
_STORE_TABLES = ("alembic_version", "experiments", "runs", "metrics", "registered_models", "model_versions")


class DamagedStore(RuntimeError):
    """The local MLflow store exists but was never completely created."""


def ensure_local_store(store: Path, artifact_root: Path) -> None:
    """Create MLflow's local SQLite store atomically, or check the existing one is complete.

    MLflow creates its tables one migration at a time on first use; a process killed meanwhile left
    a store that fails every later run with ``table ... already exists``. Here the store is built
    under a temporary name and linked into place only when complete (``os.link`` fails if another
    process got there first, and theirs is kept)."""
    import sqlite3

    if store.exists():
        con = sqlite3.connect(store)
        try:
            tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
        missing = [t for t in _STORE_TABLES if t not in tables]
        if not tables:
            store.unlink()  # an empty file: nothing was created yet, build it properly below
        elif missing:
            raise DamagedStore(
                f"the local MLflow store {store} is incomplete (no {', '.join(missing)}): its creation was "
                f"interrupted. Move it away (mv {store} {store}.broken) and run again; it is re-created empty."
            )
        else:
            return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    quiet_mlflow_logging()
    store.parent.mkdir(parents=True, exist_ok=True)
    building = store.with_name(f".{store.name}.{os.getpid()}.creating")
    building.unlink(missing_ok=True)
    SqlAlchemyStore(f"sqlite:///{building}", str(artifact_root)).engine.dispose()
    try:
        os.link(building, store)
    except FileExistsError:
        pass  # another process created it first: theirs is complete too
    finally:
        building.unlink(missing_ok=True)


@contextmanager
def using(target: TrackingTarget) -> Iterator[None]:
    """Point MLflow's fluent API at ``target`` for the block, then restore exactly what was there.

    A tracking server must answer its health check first (:func:`check_reachable`), and MLflow's
    HTTP retries are bounded for the block (``BOUNDED_HTTP_SETTINGS``, unless set by the user).

    ``mlflow.set_tracking_uri`` / ``set_registry_uri`` also export ``MLFLOW_TRACKING_URI`` /
    ``MLFLOW_REGISTRY_URI`` to the environment; restoring through them would leave MLflow's
    *default* URI (``./mlflow.db``) exported for the rest of the process. So the module state and
    the two variables are saved and put back as they were.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    quiet_mlflow_logging()
    check_reachable(target)
    saved = (tracking_utils._tracking_uri, registry_utils._registry_uri,
             {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", *BOUNDED_HTTP_SETTINGS)})
    for name, value in BOUNDED_HTTP_SETTINGS.items():
        os.environ.setdefault(name, value)
    mlflow.set_tracking_uri(target.tracking_uri)
    mlflow.set_registry_uri(target.registry_uri)
    try:
        yield
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri = saved[0], saved[1]
        for name, value in saved[2].items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# The MLflow 3 UI opens an experiment in the view of its kind; untagged, it may infer GenAI and show
# traces and an assistant panel. Ours are classic model development: runs, metrics, the registry.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CLASSIC_ML_KIND = "custom_model_development"


def experiment_name(model_name: str) -> str:
    return f"{EXPERIMENT_PREFIX}/{model_name}"


def ensure_experiment(target: TrackingTarget, model_name: str) -> str:
    """The experiment of a model (one per model), created on first use; returns its id."""
    import mlflow

    name = experiment_name(model_name)
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        if existing.tags.get(EXPERIMENT_KIND_TAG) != CLASSIC_ML_KIND:  # created before the tag was set
            mlflow.MlflowClient().set_experiment_tag(existing.experiment_id, EXPERIMENT_KIND_TAG, CLASSIC_ML_KIND)
        return existing.experiment_id
    location = None
    if target.artifact_location:
        folder = Path(target.artifact_location) / model_name
        folder.mkdir(parents=True, exist_ok=True)
        location = folder.resolve().as_uri()
    return mlflow.create_experiment(name, artifact_location=location,
                                    tags={"shopverse.model": model_name, EXPERIMENT_KIND_TAG: CLASSIC_ML_KIND})
