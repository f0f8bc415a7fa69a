"""What the model assets share: their layer, the code version, the training-set checks and the gate's view of them."""

from functools import cache
from pathlib import Path

import dagster as dg

from shopverse_platform.defs.asset_shapes import DATA_SCIENCE
from shopverse_platform.defs.checks import Check
from shopverse_platform.lib.ml.checks import CHECKS
from shopverse_platform.lib.ml.tracking import source_digest

ML = DATA_SCIENCE.with_group("ml")
LIB = Path(__file__).resolve().parents[2] / "lib"


@cache
def code_version() -> str:
    """Changes whenever the feature, training or registry code changes: the code version of the
    training sets and models, tagged on every MLflow run. Hashed once per process, when the
    definitions load (not on import)."""
    return source_digest(LIB / "ml", LIB / "segmentation")


def with_code_version(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    return list(dg.map_asset_specs(lambda spec: spec.replace_attributes(code_version=code_version()), assets))


def training_set_checks(training_set: str) -> list[Check]:
    # Not blocking: a model trained on a set whose checks failed is still registered, as a
    # challenger, so the failure is visible in MLflow too (the registry gate reads these results).
    # Evaluated by the asset: enough_rows_and_labels reads the run's config (min_rows), and the
    # gate of the model built next in the same run must find all five recorded.
    return [Check(training_set, name, text, warn=True) for name, text in CHECKS.items()]


def recorded_check_status(instance: dg.DagsterInstance, training_set: str) -> dict[str, bool | None]:
    """The latest recorded outcome of each training-set check in this Dagster instance (None: never
    run, or still planned). Statuses are compared by name: the enum is not part of Dagster's public API."""
    status: dict[str, bool | None] = {}
    for check in training_set_checks(training_set):
        record = instance.get_latest_asset_check_evaluation_record(check.key)
        state = getattr(getattr(record, "status", None), "value", None)
        status[check.name] = None if state in (None, "PLANNED") else state == "SUCCEEDED"
    return status
