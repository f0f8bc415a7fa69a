"""What every metric asset shares: ownership, partitioning arguments, and how checks are declared
and reported (a check is a function of ``lib.metrics.checks`` returning (passed, metadata))."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from shopverse_platform.defs.partitions import daily_partitions, weekly_partitions

OWNERS = ["team:analytics-engineering"]
KINDS = {"duckdb", "sql"}


def daily_asset_args(date_column: str, deps: list[str], group: str = "metrics") -> dict:
    return {
        "partitions_def": daily_partitions,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "metadata": {"partition_expr": date_column},
        "deps": deps,
        "kinds": KINDS,
        "owners": OWNERS,
        "group_name": group,
    }


def weekly_asset_args(date_column: str, deps: list[str]) -> dict:
    return {**daily_asset_args(date_column, deps), "partitions_def": weekly_partitions}


def whole_history_args(deps: list[str], group: str = "metrics") -> dict:
    return {
        "deps": deps,
        "kinds": KINDS,
        "owners": OWNERS,
        "group_name": group,
        "automation_condition": dg.AutomationCondition.eager(),
    }


def spec(asset: str, name: str, description: str, blocking: bool = True) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name=f"{asset}_{name}", asset=asset, blocking=blocking, description=description)


def result(asset: str, name: str, outcome: tuple[bool, dict], warn_only: bool = False) -> dg.AssetCheckResult:
    passed, metadata = outcome
    return dg.AssetCheckResult(
        check_name=f"{asset}_{name}",
        asset_key=asset,
        passed=bool(passed),
        metadata={k: dg.MetadataValue.json(v) if isinstance(v, (list, dict)) else v for k, v in metadata.items()},
        severity=dg.AssetCheckSeverity.WARN if warn_only else dg.AssetCheckSeverity.ERROR,
    )


def results(asset: str, checks: dict[str, Callable[[], tuple[bool, dict]]]):
    """Run the asset's checks in declaration order and yield their results."""
    for name, run in checks.items():
        yield result(asset, name, run())
