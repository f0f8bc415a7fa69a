"""What the model assets share: ownership, the code version, check specs and the gate's view of them."""

from pathlib import Path

import dagster as dg

from shopverse_platform.lib.ml.checks import CHECKS, Outcome
from shopverse_platform.lib.ml.tracking import source_digest

OWNERS = ["team:data-science"]
GROUP = "ml"
LIB = Path(__file__).resolve().parents[2] / "lib"
# Changes whenever the feature, training or registry code changes: tagged on every MLflow run.
CODE_VERSION = source_digest(LIB / "ml", LIB / "segmentation")


def check_name(training_set: str, check: str) -> str:
    return f"{training_set}_{check}"


def training_set_check_specs(training_set: str) -> list[dg.AssetCheckSpec]:
    # Not blocking: a model trained on a set whose checks failed is still registered, as a
    # challenger, so the failure is visible in MLflow too (the registry gate reads these results).
    return [dg.AssetCheckSpec(name=check_name(training_set, name), asset=training_set, blocking=False, description=text)
            for name, text in CHECKS.items()]


def check_result(training_set: str, name: str, outcome: Outcome) -> dg.AssetCheckResult:
    passed, metadata = outcome
    return dg.AssetCheckResult(
        check_name=check_name(training_set, name), asset_key=training_set, passed=bool(passed),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={k: dg.MetadataValue.json(v) if isinstance(v, (list, dict)) else v for k, v in metadata.items()},
    )


def recorded_check_status(instance: dg.DagsterInstance, training_set: str) -> dict[str, bool | None]:
    """The latest recorded outcome of each training-set check in this Dagster instance (None: never
    run, or still planned). Statuses are compared by name: the enum is not part of Dagster's public API."""
    status: dict[str, bool | None] = {}
    for name in CHECKS:
        record = instance.get_latest_asset_check_evaluation_record(
            dg.AssetCheckKey(dg.AssetKey(training_set), check_name(training_set, name)))
        state = getattr(getattr(record, "status", None), "value", None)
        status[name] = None if state in (None, "PLANNED") else state == "SUCCEEDED"
    return status
