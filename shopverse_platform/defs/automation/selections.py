"""Which assets the daily and the weekly job own, decided from the asset graph, not from names.

A job can hold assets of one partitions definition plus unpartitioned ones, so the split follows
the partitions: every daily-partitioned asset is daily work, every weekly-partitioned one weekly
work (weekly KPIs, segment snapshots and movements, the weekly report). Unpartitioned assets go
with the daily job when they sit downstream of daily assets (sessions, dimensions, whole-history
metrics, the current segments), except those downstream of weekly assets and of the weekly groups:
model retraining is weekly by design, and so is the long-term profile (seasonality). New assets from any layer land in the right job without
touching this file.

The freshness scope (today's tables kept fresh while the day fills, see docs/operations.md) is the
daily assets whose every ancestor is daily too: ingestion, cleaning, facts and daily metrics. A
daily asset reading a whole-history table (the daily report reads the anomalies) waits for the
daily job, which rebuilds those tables first; nothing unpartitioned, weekly or ML is in it.
"""

from __future__ import annotations

from collections.abc import Set

import dagster as dg

# Groups whose unpartitioned assets are rebuilt weekly: model training and the scores it produces,
# and long-term profiles of the whole history (seasonality) that one more day hardly moves.
WEEKLY_GROUPS = ("ml", "models", "long_term")


class PartitionedLike(dg.AssetSelection):
    """Materializable assets partitioned by days (``dg.DailyPartitionsDefinition``), by weeks, or not
    at all (``None``). By kind rather than by one object: the partitions' start is the shop's first
    day, set when the definitions load (defs/partitions.py), and the code location has one daily and
    one weekly definition."""

    def __init__(self, kind: type[dg.PartitionsDefinition] | None, label: str) -> None:
        self.kind = kind
        self.label = label

    def resolve_inner(self, asset_graph, allow_missing: bool) -> Set[dg.AssetKey]:
        return {
            node.key
            for node in asset_graph.asset_nodes
            if node.is_materializable and (node.partitions_def is None if self.kind is None
                                           else isinstance(node.partitions_def, self.kind))
        }

    def __repr__(self) -> str:
        return f"PartitionedLike({self.label})"


DAILY = PartitionedLike(dg.DailyPartitionsDefinition, "daily")
WEEKLY = PartitionedLike(dg.WeeklyPartitionsDefinition, "weekly")
UNPARTITIONED = PartitionedLike(None, "unpartitioned")

WEEKLY_SCOPE = WEEKLY | (UNPARTITIONED & (WEEKLY | dg.AssetSelection.groups(*WEEKLY_GROUPS)).downstream())
DAILY_SCOPE = DAILY | ((UNPARTITIONED & DAILY.downstream()) - WEEKLY_SCOPE)
FRESHNESS_SCOPE = DAILY - (UNPARTITIONED | WEEKLY).downstream()
# What the late-events sensor re-runs for an event day: the daily job without the layers that are
# partitioned by landing day (ingestion and cleaning: the late events are already clean under the
# day they landed), i.e. the facts, daily metrics and report by event day, and the unpartitioned
# tables after them.
LATE_EVENTS_SCOPE = DAILY_SCOPE - (DAILY & dg.AssetSelection.groups("ingestion", "cleaning"))
