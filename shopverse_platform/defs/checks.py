"""Asset checks, declared one way: name, asset, description, blocking and severity in a ``Check``,
and one conversion of a ``lib`` outcome ``(passed, metadata)`` into a Dagster check result.

Two kinds, as the issue asks ("checks that can run against the stored table run on their own";
"checks that need in-flight data ... stay yielded by their asset, through the same factory"):

- Table checks look only at the stored table. ``table_checks`` makes them a ``@dg.multi_asset_check``
  definition of their own, loaded from the defs folder like any asset: they can be executed from the
  UI without rebuilding the table, and every job or ``dg.materialize`` that selects the asset runs
  them (an asset selection includes the checks of its assets), and so does the automation sensor's
  run of the asset (``WITH_ITS_ASSET``). ``blocking=True`` still holds back the downstream assets
  of the run until the check has passed.
- Run checks need what only the run knows: its partition window, its config, or figures computed
  while building. The asset lists ``check.spec()`` in ``check_specs`` and yields ``check.result(...)``.

A check's full name stays ``<asset>_<name>`` so its history in the Dagster instance carries on.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import dagster as dg
import duckdb

from shopverse_platform.defs.resources import Warehouse

# The run's partition tags: a single-run range, else one partition.
RANGE_START_TAG, RANGE_END_TAG, PARTITION_TAG = (
    "dagster/asset_partition_range_start", "dagster/asset_partition_range_end", "dagster/partition")

Outcome = tuple[bool, Mapping[str, object]]


@dataclass(frozen=True)
class Check:
    """One check of one asset. ``warn``: a failure is reported with WARN severity (else ERROR)."""

    asset: str
    name: str
    description: str
    blocking: bool = False
    warn: bool = False

    @property
    def check_name(self) -> str:
        return f"{self.asset}_{self.name}"

    @property
    def key(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(dg.AssetKey(self.asset), self.check_name)

    def spec(self, automation_condition: dg.AutomationCondition | None = None) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(name=self.check_name, asset=self.asset, blocking=self.blocking, description=self.description,
                                 automation_condition=automation_condition)

    def result(self, outcome: Outcome, warn: bool | None = None) -> dg.AssetCheckResult:
        """``warn`` overrides the check's severity for this result (a check that could not be evaluated)."""
        passed, metadata = outcome
        warn = self.warn if warn is None else warn
        return dg.AssetCheckResult(
            check_name=self.check_name,
            asset_key=self.asset,
            passed=bool(passed),
            # a failure says what it found in words: the run's error and the alert show it
            description=None if passed else _finding(metadata),
            # lists and dicts (offending keys, per-split figures) are shown as JSON in the UI
            metadata={k: dg.MetadataValue.json(v) if isinstance(v, (list, dict)) else v for k, v in metadata.items()},
            severity=dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR,
        )


def _finding(metadata: dict) -> str | None:
    """A failed check's finding in words, from its metadata: its findings (the first three), else
    what to look at."""
    findings = metadata.get("findings")
    if findings:
        more = f" (and {len(findings) - 3} more)" if len(findings) > 3 else ""
        return "; ".join(str(f) for f in findings[:3]) + more
    look = metadata.get("what_to_look_at")
    return str(look) if look else None


def failed_check_findings(evaluations: Iterable[dg.AssetCheckEvaluation]) -> list[str]:
    """``check_name: finding`` of each evaluation that failed with ERROR severity (what blocked a
    run), for the run-failure alert: Dagster's own error names the checks only."""
    return [f"{e.check_name}: {e.description or 'failed'}" for e in evaluations
            if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]


def run_checks(
    checks: Iterable[tuple[Check, Callable[[], Outcome]]], selected: Iterable[dg.AssetCheckKey] | None = None
) -> Iterator[dg.AssetCheckResult]:
    """Evaluate the checks in declaration order (only the ``selected`` ones when given) and yield their results."""
    wanted = None if selected is None else set(selected)
    for check, evaluate in checks:
        if wanted is None or check.key in wanted:
            yield check.result(evaluate())


@dataclass(frozen=True)
class OnRunDays:
    """A table check that can look at the run's days only: ``evaluate(con, start, end, run_config)``
    with the run's [start, end) when the run has daily partitions, ``evaluate(con, None, None,
    run_config)`` (the whole table) when it has none, e.g. the check executed on its own from the UI
    or by the integrity job. ``run_config``: the run's, for settings the run's assets were built
    with (a writer's window, say)."""

    evaluate: Callable[[duckdb.DuckDBPyConnection, date | None, date | None, Mapping[str, Any]], Outcome]


TableCheck = tuple[Check, Callable[[duckdb.DuckDBPyConnection], Outcome] | OnRunDays]


def run_days(context: dg.AssetCheckExecutionContext) -> tuple[date, date] | tuple[None, None]:
    """[start, end) of the run's daily partitions, from its tags (a table check has no partitions
    of its own); (None, None) when the run has none or they are not days."""
    tags = context.run.tags
    first = tags.get(RANGE_START_TAG) or tags.get(PARTITION_TAG)
    last = tags.get(RANGE_END_TAG) or tags.get(PARTITION_TAG)
    try:
        return date.fromisoformat(first), date.fromisoformat(last) + timedelta(days=1)
    except (TypeError, ValueError):
        return None, None

# When the automation sensor (declarative automation) requests the asset, its table checks join the
# same run, as they did when they ran inside the asset; and only then: no extra check-only runs.
WITH_ITS_ASSET = dg.AutomationCondition.any_deps_match(dg.AutomationCondition.will_be_requested()).with_label(
    "with_its_asset")


def table_checks(asset: str, checks: list[TableCheck]) -> dg.AssetChecksDefinition:
    """The stored-table checks of ``asset`` as one check definition: one warehouse connection, each
    check a function of it; any subset of them can be executed."""
    if any(check.asset != asset for check, _ in checks):
        raise ValueError(f"table_checks({asset!r}) holds a check of another asset")

    @dg.multi_asset_check(
        name=f"{asset}_table_checks",
        specs=[check.spec(WITH_ITS_ASSET) for check, _ in checks],
        can_subset=True,
        description=f"Checks of the stored {asset} table.",
    )
    def _table_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        start, end = run_days(context)
        with warehouse.connect() as con:
            yield from run_checks(
                [(check, lambda evaluate=evaluate: evaluate.evaluate(con, start, end, context.run.run_config)
                  if isinstance(evaluate, OnRunDays)
                  else evaluate(con)) for check, evaluate in checks],
                context.selected_asset_check_keys,
            )

    return _table_checks
