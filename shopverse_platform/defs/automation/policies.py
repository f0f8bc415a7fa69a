"""Global automation policies, applied once over the whole code location in ``definitions.py``.

- Freshness: every asset of the daily job must have been materialized after midnight by the daily
  deadline (default 03:00 UTC: "yesterday's sales fresh by 03:00"); every asset of the weekly job
  after Monday midnight by the weekly deadline. The UI marks late assets stale. Policies an asset
  declares itself win.
- Automation: ``AutomationCondition.eager()`` never fires for an unpartitioned asset built from
  daily partitions here, because it waits while *any* parent partition is missing, and the
  partitions reach back to the first day (2010-12-01 by default) with days often empty. Such
  assets get ``after_partitions_updated`` instead: eager without that wait, and deaf to the
  freshness runs of a day in progress (they would rebuild the whole history every minute).
"""

from __future__ import annotations

import warnings

import dagster as dg

from shopverse_platform.defs.automation.jobs import FRESHNESS_TRIGGER, TRIGGER_TAG
from shopverse_platform.defs.automation.selections import DAILY_SCOPE, WEEKLY_SCOPE
from shopverse_platform.lib.automation.settings import (
    AutomationSettings,
    automation_settings,
)


def after_partitions_updated() -> dg.AutomationCondition:
    """Eager, except that missing historical partitions of a parent do not block the update, and a
    parent partition last written by a freshness run (today's tables while the day fills, every
    minute or so) does not count as an update: the whole-history tables are rebuilt by the daily job
    once the day has ended, not after each freshness run."""
    AC = dg.AutomationCondition
    not_by_freshness = (
        AC.newly_updated() & ~AC.executed_with_root_target()
        & ~AC.executed_with_tags(tag_values={TRIGGER_TAG: FRESHNESS_TRIGGER})
    ).with_label("newly_updated_without_root")
    return (AC.eager().without(~AC.any_deps_missing())
            .replace("newly_updated_without_root", not_by_freshness).with_label("after_partitions_updated"))


def freshness_policies(settings: AutomationSettings) -> tuple[dg.FreshnessPolicy, dg.FreshnessPolicy]:
    daily = dg.FreshnessPolicy.cron(
        deadline_cron=settings.daily_fresh_cron,
        lower_bound_delta=settings.since_midnight(settings.daily_fresh_by),
        timezone=settings.timezone,
    )
    weekly = dg.FreshnessPolicy.cron(
        deadline_cron=settings.weekly_fresh_cron,
        lower_bound_delta=settings.since_midnight(settings.weekly_fresh_by),
        timezone=settings.timezone,
    )
    return daily, weekly


def apply_automation_policies(defs: dg.Definitions, settings: AutomationSettings | None = None) -> dg.Definitions:
    """``defs`` with freshness policies and the automation-condition fix applied (see the module).
    ``settings``: unset, those of ``automation.toml``."""
    settings = settings or automation_settings()
    graph = defs.resolve_asset_graph()
    daily_keys = DAILY_SCOPE.resolve(graph)
    weekly_keys = WEEKLY_SCOPE.resolve(graph)
    daily_policy, weekly_policy = freshness_policies(settings)
    built_from_time_partitions = {
        key
        for key in graph.materializable_asset_keys
        if graph.get(key).partitions_def is None
        and any(isinstance(graph.get(p).partitions_def, dg.TimeWindowPartitionsDefinition) for p in graph.get(key).parent_keys)
    }

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        policy = daily_policy if spec.key in daily_keys else weekly_policy if spec.key in weekly_keys else None
        if policy is not None:
            spec = dg.apply_freshness_policy(spec, policy, overwrite_existing=False)
        condition = spec.automation_condition
        if spec.key in built_from_time_partitions and condition is not None and condition.get_label() == "eager":
            spec = spec.replace_attributes(automation_condition=after_partitions_updated())
        return spec

    # Definitions.map_asset_specs is Dagster's way to apply one policy to every asset (as
    # dagster-open-platform does) and is marked preview: "may change in a patch release". The
    # Dagster family is pinned to one version (pyproject.toml) and test_definitions/test_jobs check
    # the policy's effect on every asset, so the warning, printed twice on every command, says
    # nothing a user can act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=apply)
