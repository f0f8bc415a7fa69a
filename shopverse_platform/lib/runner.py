"""Materialize the whole asset graph over a range of days, in-process, on a real Dagster instance.

Used by `shopverse run` (the Quick start's main job) and by backfills from the command line. Runs
are recorded in the instance under ``$DAGSTER_HOME`` so the Dagster UI shows them afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class StageResult:
    name: str
    run_id: str
    success: bool
    assets: list[str]
    partition_range: tuple[str, str] | None


def _partitions_kind(defs: dg.Definitions, key: dg.AssetKey) -> str:
    partitions = defs.resolve_assets_def(key).partitions_def
    if partitions is None:
        return "unpartitioned"
    if isinstance(partitions, dg.WeeklyPartitionsDefinition):
        return "weekly"
    if isinstance(partitions, dg.DailyPartitionsDefinition):
        return "daily"
    return "other"


def week_range(first_day: date, last_day: date) -> tuple[str, str] | None:
    """Weekly partitions start on Monday (``day_offset=1``).

    Returns the first and last weekly partition keys fully inside [first_day, last_day], or None.
    """
    start = first_day + timedelta(days=(7 - first_day.weekday()) % 7)  # next Monday (or first_day)
    last_start = last_day - timedelta(days=6)
    last_start -= timedelta(days=last_start.weekday())
    if last_start < start:
        return None
    return start.isoformat(), last_start.isoformat()


def materialize_all(
    defs: dg.Definitions, instance: dg.DagsterInstance, first_day: date, last_day: date, raise_on_error: bool = True
) -> list[StageResult]:
    """Materialize every asset: daily partitions of [first_day, last_day] as one single-run backfill
    together with the unpartitioned assets, then the complete weeks of the range, then anything
    unpartitioned that sits downstream of the weekly assets."""
    job = defs.resolve_implicit_global_asset_job_def()
    keys = list(defs.resolve_asset_graph().get_all_asset_keys())
    materializable = [k for k in keys if defs.resolve_asset_graph().get(k).is_materializable]
    by_kind: dict[str, list[dg.AssetKey]] = {}
    for key in materializable:
        by_kind.setdefault(_partitions_kind(defs, key), []).append(key)
    graph = defs.resolve_asset_graph()
    weekly = set(by_kind.get("weekly", []))
    after_weekly = {k for k in by_kind.get("unpartitioned", []) if graph.get_ancestor_asset_keys(k) & weekly} if weekly else set()
    stages: list[tuple[str, list[dg.AssetKey], tuple[str, str] | None]] = [
        ("daily", by_kind.get("daily", []) + [k for k in by_kind.get("unpartitioned", []) if k not in after_weekly],
         (first_day.isoformat(), last_day.isoformat())),
    ]
    weeks = week_range(first_day, last_day)
    if weekly and weeks:
        stages.append(("weekly", sorted(weekly), weeks))
    if after_weekly:
        stages.append(("after_weekly", sorted(after_weekly), None))
    results = []
    for name, selection, partition_range in stages:
        if not selection:
            continue
        tags = {"shopverse/stage": name}
        if partition_range:
            tags.update({RANGE_START_TAG: partition_range[0], RANGE_END_TAG: partition_range[1]})
        outcome = job.get_subset(asset_selection=set(selection)).execute_in_process(
            instance=instance, tags=tags, raise_on_error=raise_on_error
        )
        results.append(StageResult(name, outcome.run_id, outcome.success, sorted(k.to_user_string() for k in selection), partition_range))
        if not outcome.success:
            break
    return results
