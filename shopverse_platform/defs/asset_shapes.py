"""The shapes every asset takes, declared once: a ``Layer`` (owners, group, kinds) builds the arguments of
``@dg.asset`` for a daily or weekly table (partitions, single-run backfills, ``partition_expr``) or a
whole-history table (eager automation), and ``window`` is the run's [start, end) filter on a date column.
A small factory rather than a YAML component: the ~35 assets are Python functions with their own
bodies and docstrings, so a component would only move these few keyword arguments out of sight of
the code that depends on them, and add a schema to maintain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import dagster as dg

from shopverse_platform.defs.asset_helpers import window_dates
from shopverse_platform.defs.partitions import daily_partitions, weekly_partitions

SQL = frozenset({"duckdb", "sql"})


def window(column: str) -> str:
    """The run's days on ``column``: [start, end), bound as ``$start`` and ``$end`` (``window_params``)."""
    return f"{column} >= $start AND {column} < $end"


def window_params(context: dg.AssetExecutionContext) -> dict[str, date]:
    """``$start`` and ``$end`` of the run: one partition, or a range in a single-run backfill."""
    start, end = window_dates(context)
    return {"start": start, "end": end}


@dataclass(frozen=True)
class Layer:
    """Who owns a layer's assets, where they show in the UI, and what they are built with."""

    owners: tuple[str, ...]
    group: str
    kinds: frozenset[str] = SQL

    def with_group(self, group: str) -> Layer:
        return replace(self, group=group)

    def _common(self, deps: Sequence[object], kinds: set[str] | None) -> dict:
        return {"deps": list(deps), "kinds": set(kinds or self.kinds), "owners": list(self.owners), "group_name": self.group}

    def _partitioned(self, partitions_def: dg.PartitionsDefinition, date_column: str | None, deps: Sequence[object],
                     kinds: set[str] | None, eager: bool) -> dict:
        args = {**self._common(deps, kinds), "partitions_def": partitions_def,
                # a range of partitions (a backfill, late files over several days) is one run over the range
                "backfill_policy": dg.BackfillPolicy.single_run()}
        if date_column:
            args["metadata"] = {"partition_expr": date_column}
        if eager:
            args["automation_condition"] = dg.AutomationCondition.eager()
        return args

    def daily(self, date_column: str | None, deps: Sequence[object] = (), *, kinds: set[str] | None = None) -> dict:
        """A table of UTC days: one daily partition per day, rows dated by ``date_column``."""
        return self._partitioned(daily_partitions, date_column, deps, kinds, eager=False)

    def weekly(self, date_column: str | None, deps: Sequence[object] = (), *, kinds: set[str] | None = None,
               eager: bool = False) -> dict:
        """A table of Monday-to-Sunday UTC weeks, rows dated by ``date_column`` (the Monday)."""
        return self._partitioned(weekly_partitions, date_column, deps, kinds, eager)

    def whole_history(self, deps: Sequence[object] = (), *, kinds: set[str] | None = None, eager: bool = True) -> dict:
        """An unpartitioned table rebuilt from everything upstream, eagerly after its inputs change."""
        args = self._common(deps, kinds)
        if eager:
            args["automation_condition"] = dg.AutomationCondition.eager()
        return args


PLATFORM = Layer(("team:data-platform",), "ingestion")
ANALYTICS = Layer(("team:analytics-engineering",), "metrics")
DATA_SCIENCE = Layer(("team:data-science",), "segmentation")
