"""Partitions shared by every layer.

Days are UTC days, weeks Monday to Sunday. They start on the shop's first day (``first_day`` in
lib/automation/settings.py): ``first_day`` in automation.toml when set, else the first day the
building commands recorded in the data directory (a demo's simulated history starts there), else
2010-12-01, the first day of the UCI Online Retail export.

Importing defs/ defines objects only and reads no setting, so the asset decorators take the
default-start definitions below; ``with_first_day`` swaps in those of the shop's first day when the
definitions load (``definitions.py``), once per process, like the schedules' times: the
webserver, the daemon and the run workers of one data directory list the same partitions.
"""

import warnings

import dagster as dg

from shopverse_platform.lib.automation.settings import DEFAULT_FIRST_DAY, FirstDay


def daily_from(first: FirstDay) -> dg.DailyPartitionsDefinition:
    """Days from the first day up to today (UTC) included: ``end_offset=1`` makes the day in progress
    a partition, so the freshness path (the landing-zone sensor's ``freshness_job``) can build today's
    tables while it fills. Nothing else starts it: the daily schedule, ``shopverse run`` and
    ``shopverse backfill`` still default to the last day that has ended, the landing sensor's full
    runs still wait for a day's end, and a daily report of a day in progress is marked partial
    (lib/reports/data.py ``completeness``)."""
    return dg.DailyPartitionsDefinition(start_date=first.day.isoformat(), timezone="UTC", end_offset=1)


def weekly_from(first: FirstDay) -> dg.WeeklyPartitionsDefinition:
    """Weeks from the first Monday on or after the first day (the first complete week)."""
    return dg.WeeklyPartitionsDefinition(start_date=first.first_week.isoformat(), timezone="UTC", day_offset=1)


DEFAULT = FirstDay(DEFAULT_FIRST_DAY, "the default first day", pinned=False)
daily_partitions = daily_from(DEFAULT)
weekly_partitions = weekly_from(DEFAULT)


def with_first_day(defs: dg.Definitions, first: FirstDay) -> dg.Definitions:
    """``defs`` with every daily and weekly asset partitioned from ``first``."""
    daily, weekly = daily_from(first), weekly_from(first)
    if (daily, weekly) == (daily_partitions, weekly_partitions):
        return defs

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        if isinstance(spec.partitions_def, dg.DailyPartitionsDefinition):
            return spec.replace_attributes(partitions_def=daily)
        if isinstance(spec.partitions_def, dg.WeeklyPartitionsDefinition):
            return spec.replace_attributes(partitions_def=weekly)
        return spec

    with warnings.catch_warnings():  # preview API, pinned Dagster version: see automation/policies.py
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=apply)
