"""Jobs, executor, freshness policies and declarative automation."""

from __future__ import annotations

import dagster as dg
import pytest

from shopverse_platform.defs.automation.policies import (
    after_partitions_updated,
    apply_automation_policies,
)
from shopverse_platform.defs.automation.selections import DAILY_SCOPE, WEEKLY_SCOPE
from shopverse_platform.defs.partitions import daily_partitions, weekly_partitions


def _keys(selection: dg.AssetSelection, defs: dg.Definitions) -> set[str]:
    return {k.to_user_string() for k in selection.resolve(defs.resolve_asset_graph())}


def test_scopes_follow_partitions_not_names():
    """A made-up graph: every kind of asset lands in the job its partitions allow."""

    @dg.asset(partitions_def=daily_partitions)
    def landed(): ...

    @dg.asset(partitions_def=daily_partitions, deps=[landed])
    def daily_metric(): ...

    @dg.asset(deps=[daily_metric])
    def whole_history(): ...

    @dg.asset(partitions_def=weekly_partitions, deps=[daily_metric])
    def weekly_rollup(): ...

    @dg.asset(deps=[weekly_rollup])
    def built_on_weekly(): ...

    @dg.asset(deps=[whole_history], group_name="ml")
    def model(): ...

    @dg.asset
    def standalone(): ...

    defs = dg.Definitions(assets=[landed, daily_metric, whole_history, weekly_rollup, built_on_weekly, model, standalone])
    assert _keys(DAILY_SCOPE, defs) == {"landed", "daily_metric", "whole_history"}
    assert _keys(WEEKLY_SCOPE, defs) == {"weekly_rollup", "built_on_weekly", "model"}


def test_project_jobs_split_the_graph(definitions):
    graph = definitions.resolve_asset_graph()
    daily = {k.to_user_string() for k in definitions.resolve_job_def("daily_job").asset_layer.selected_asset_keys}
    weekly = {k.to_user_string() for k in definitions.resolve_job_def("weekly_job").asset_layer.selected_asset_keys}
    assert {"raw_events", "clean_events", "sessions", "daily_sales", "anomalies", "daily_report"} <= daily
    assert {"weekly_kpis", "weekly_report"} <= weekly
    # the whole-history profile is rebuilt weekly, not after every day (issue 14), and nothing eager
    # rebuilds it after a day either
    assert "seasonality" in weekly and "seasonality" not in daily
    assert graph.get(dg.AssetKey("seasonality")).automation_condition is None
    assert not daily & weekly
    for key in graph.materializable_asset_keys:
        partitions = graph.get(key).partitions_def
        if partitions == daily_partitions:
            assert key.to_user_string() in daily
        elif partitions == weekly_partitions:
            assert key.to_user_string() in weekly
    assert definitions.resolve_job_def("daily_job").partitions_def == daily_partitions
    assert definitions.resolve_job_def("weekly_job").partitions_def == weekly_partitions
    for name in ("daily_job", "weekly_job"):
        job = definitions.resolve_job_def(name)
        assert job.description and job.tags["shopverse/warehouse"] == "write"


def test_steps_of_a_run_run_one_after_another_unless_the_run_asks_for_processes(definitions):
    """A DuckDB file admits one writing process: by default a run's steps never open it from two."""
    for job in (definitions.resolve_implicit_global_asset_job_def(), definitions.resolve_job_def("daily_job")):
        assert job.executor_def.name == "in_process_or_multiprocess"
        assert job.executor_def.config_schema.as_field().default_value == {"in_process": {}}


def test_sensors_are_on_and_documented(definitions):
    for name in ("landing_zone_sensor", "late_events_sensor", "run_failure_alert_sensor", "automation_sensor"):
        sensor = definitions.resolve_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, name
        assert sensor.description, name


def test_policies_add_freshness_and_keep_one_valid_graph(definitions):
    applied = apply_automation_policies(definitions)
    graph = applied.resolve_asset_graph()
    sales = graph.get(dg.AssetKey("daily_sales")).freshness_policy
    assert (sales.deadline_cron, sales.timezone) == ("0 3 * * *", "UTC")
    assert sales.lower_bound_delta.total_seconds() == 3 * 3600  # materialized after midnight, by 03:00
    weekly = graph.get(dg.AssetKey("weekly_report")).freshness_policy
    assert weekly.deadline_cron == "0 6 * * 1"
    assert graph.get(dg.AssetKey("sessions")).freshness_policy == sales
    assert graph.get(dg.AssetKey("sessions")).automation_condition.get_label() == "after_partitions_updated"
    applied.resolve_implicit_global_asset_job_def()  # still one valid global asset job
    assert {s.name for s in applied.sensors} >= {"landing_zone_sensor", "automation_sensor"}


def test_after_partitions_updated_fires_where_eager_never_does():
    """An unpartitioned child of a daily asset whose history (back to 2010) is mostly missing."""

    @dg.asset(partitions_def=daily_partitions)
    def parent() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    @dg.asset(deps=[parent], automation_condition=dg.AutomationCondition.eager())
    def eager_child() -> None: ...

    @dg.asset(deps=[parent], automation_condition=after_partitions_updated())
    def fixed_child() -> None: ...

    defs = dg.Definitions(assets=[parent, eager_child, fixed_child])
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0
        dg.materialize([parent], instance=instance, partition_key="2026-11-12")
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert _requested(after) == {"fixed_child"}  # eager waits for 5,800 missing days of history
        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
        assert _requested(again) == set()  # once per update


def test_after_partitions_updated_ignores_freshness_runs_of_the_day_in_progress():
    """A parent partition written by a freshness run (every minute or so while today fills) does not
    rebuild the whole-history child; a run of the daily job's kind (any other tag) still does."""

    @dg.asset(partitions_def=daily_partitions)
    def parent() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    @dg.asset(deps=[parent], automation_condition=after_partitions_updated())
    def whole_history() -> None: ...

    defs = dg.Definitions(assets=[parent, whole_history])
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        dg.materialize([parent], instance=instance, partition_key="2026-11-12",
                       tags={"shopverse/trigger": "freshness"})
        fresh = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert _requested(fresh) == set()
        dg.materialize([parent], instance=instance, partition_key="2026-11-12",
                       tags={"shopverse/trigger": "ui"})
        other = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=fresh.cursor)
        assert _requested(other) == {"whole_history"}


def test_freshness_job_holds_the_daily_assets_built_only_from_daily_ones(definitions):
    """From the graph: ingestion, cleaning, facts and daily metrics; not the daily report (it reads
    the whole-history anomalies), nothing unpartitioned or weekly."""
    job = definitions.resolve_job_def("freshness_job")
    keys = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert {"raw_events", "clean_events", "order_lines", "daily_sales", "daily_traffic", "funnel_daily"} <= keys
    assert not keys & {"daily_report", "sessions", "anomalies", "weekly_kpis", "customer_metrics"}
    daily = {k.to_user_string() for k in definitions.resolve_job_def("daily_job").asset_layer.selected_asset_keys}
    assert keys < daily and job.tags.get("shopverse/warehouse") == "write"


def test_table_checks_join_their_asset_when_automation_requests_it():
    """A stored-table check (defs/checks.py) runs in the automation sensor's run of its asset, as it
    did inside the asset, and is not requested again on its own after the asset was built."""
    from shopverse_platform.defs.checks import Check, table_checks
    from shopverse_platform.defs.resources import Warehouse

    @dg.asset(automation_condition=dg.AutomationCondition.missing())
    def toy() -> None: ...

    toy_checks = table_checks("toy", [(Check("toy", "rows_ok", "A check of the stored table."), lambda con: (True, {}))])
    defs = dg.Definitions(assets=[toy], asset_checks=[toy_checks], resources={"warehouse": Warehouse()})
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert _requested(first) == {"toy", "toy:toy_rows_ok"}
        dg.materialize([toy], instance=instance)
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert _requested(after) == set()


def test_a_failing_blocking_table_check_holds_back_the_assets_downstream(tmp_path):
    """blocking=True still works once a check is a definition of its own: downstream assets of the
    same run are not built; a non-blocking failure lets them run."""
    from shopverse_platform.defs.checks import Check, table_checks
    from shopverse_platform.defs.resources import Warehouse

    def run(blocking: bool) -> dg.ExecuteInProcessResult:
        @dg.asset
        def upstream() -> None: ...

        @dg.asset(deps=[upstream])
        def downstream() -> None: ...

        failing = table_checks("upstream", [(Check("upstream", "fails", "Always fails.", blocking=blocking),
                                             lambda con: (False, {"why": "test"}))])
        return dg.materialize([upstream, downstream, failing], resources={"warehouse": Warehouse(path=str(tmp_path / "w.duckdb"))},
                              instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)

    blocked = run(blocking=True)
    assert [e.passed for e in blocked.get_asset_check_evaluations()] == [False]
    assert {e.asset_key.to_user_string() for e in blocked.get_asset_materialization_events()} == {"upstream"}
    assert not blocked.success
    allowed = run(blocking=False)
    assert {e.asset_key.to_user_string() for e in allowed.get_asset_materialization_events()} == {"upstream", "downstream"}


def _requested(result) -> set[str]:
    return {r.key.to_user_string() for r in result.results if r.true_subset.size}


@pytest.mark.parametrize("job", ["daily_job", "weekly_job"])
def test_jobs_accept_a_partition_range_in_one_run(definitions, job):
    # every asset of the jobs declares a single-run backfill policy (or none: unpartitioned)
    for key in definitions.resolve_job_def(job).asset_layer.selected_asset_keys:
        assets_def = definitions.resolve_assets_def(key)
        if assets_def.partitions_def is not None:
            assert assets_def.backfill_policy == dg.BackfillPolicy.single_run(), key
