"""Metrics rebuilt from scratch equal metrics built day by day; every check fails when a number is wrong."""

from __future__ import annotations

import shutil
from datetime import timedelta

import dagster as dg
import duckdb
import pytest

from shopverse_platform.defs.metrics.facts import DOCUMENT_UNIQUE, orders, orders_checks
from shopverse_platform.defs.metrics.sales import daily_sales
from shopverse_platform.defs.metrics.weekly import weekly_kpis
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics import checks
from shopverse_platform_tests.conftest import materialize_range
from shopverse_platform_tests.metrics import fixture as fx
from shopverse_platform_tests.metrics.conftest import (
    DAILY_METRICS,
    METRIC_TABLES,
    WHOLE_HISTORY_METRICS,
)


def _normalise(value):
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_normalise(v) for v in value)
    return value


def _snapshot(warehouse: Warehouse) -> dict[str, list]:
    with warehouse.connect(read_only=True) as con:
        return {t: _normalise(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()) for t in METRIC_TABLES}


def test_metrics_rebuilt_from_scratch_equal_metrics_built_day_by_day(built, tmp_path):
    """``built`` made every metric in one range run (a rebuild from scratch); here a copy of its
    warehouse loses every metric table and gets them back one daily partition after the other."""
    from_scratch = _snapshot(built.warehouse)
    warehouse = Warehouse(path=str(tmp_path / "incremental.duckdb"))
    shutil.copy(built.warehouse.resolved_path(), warehouse.resolved_path())
    resources = {**built.resources, "warehouse": warehouse}
    with warehouse.connect() as con:
        for table in METRIC_TABLES:
            con.execute(f"DROP TABLE {table}")
    day = fx.D1
    while day <= fx.WEEK_END:  # the daily schedule: one partition after the other
        assert materialize_range(DAILY_METRICS, resources, str(day), str(day)).success
        day += timedelta(days=1)
    assert dg.materialize(WHOLE_HISTORY_METRICS, resources=resources, instance=dg.DagsterInstance.ephemeral()).success
    assert materialize_range([weekly_kpis], resources, str(fx.D1), str(fx.D1)).success
    incremental = _snapshot(warehouse)

    assert from_scratch.keys() == incremental.keys()
    for table in METRIC_TABLES:
        assert incremental[table] == from_scratch[table], table
    assert len(from_scratch["daily_sales"]) == 7 and len(from_scratch["funnel_daily"]) == 63


WINDOW = (fx.D1, fx.WEEK_END + timedelta(days=1))
RATES = ["bounce_rate"]
CASES = {
    "net revenue off by a penny": (
        "UPDATE daily_sales SET net_revenue = net_revenue + 0.01 WHERE sales_date = '2024-03-05'",
        lambda con: checks.daily_sales_reconcile(con, *WINDOW)),
    "orders counted from lines": (
        "UPDATE daily_sales SET orders = orders + 1 WHERE sales_date = '2024-03-04'",
        lambda con: checks.daily_orders_match_fact(con, *WINDOW)),
    "a missing day": (
        "DELETE FROM daily_sales WHERE sales_date = '2024-03-06'",
        lambda con: checks.every_day_present(con, "daily_sales", "sales_date", *WINDOW)),
    "a hole in the table": (
        "DELETE FROM daily_sales WHERE sales_date = '2024-03-06'",
        lambda con: checks.no_gaps(con, "daily_sales", "sales_date")),
    "a funnel step rising": (
        "UPDATE funnel_daily SET sessions = 99 WHERE funnel_date = '2024-03-04' AND funnel = 'purchase' AND step = 'purchase'",
        lambda con: checks.funnel_never_rises(con, *WINDOW)),
    "a rate above 1": (
        "UPDATE daily_traffic SET bounce_rate = 1.2 WHERE traffic_date = '2024-03-04'",
        lambda con: checks.rates_in_unit_interval(con, "daily_traffic", RATES)),
    "a nested rate above 1": (
        "UPDATE cart_abandonment SET by_device = [{'key': 'x', 'carts': 1, 'abandoned': 2, 'abandonment_rate': 2.0, "
        "'abandoned_value': 0}] WHERE cart_date = '2024-03-04'",
        lambda con: checks.rates_in_unit_interval(
            con, "cart_abandonment", [checks.nested_rates("by_device", "abandonment_rate")])),
    "a negative count": (
        "UPDATE daily_traffic SET sessions = -1 WHERE traffic_date = '2024-03-06'",
        lambda con: checks.no_negative_counts(con, "daily_traffic", ["sessions"])),
    "carts not adding up": (
        "UPDATE cart_abandonment SET carts_abandoned = carts_abandoned + 1 WHERE cart_date = '2024-03-04'",
        lambda con: checks.carts_add_up(con, *WINDOW)),
    "product revenue lost": (
        "DELETE FROM product_performance WHERE product_id = 'P2'",
        lambda con: checks.product_revenue_reconciles(con, *WINDOW)),
    "a document counted twice": (
        "INSERT INTO orders SELECT * FROM orders WHERE document_id = 'T1'",
        lambda con: checks.unique_key(con, "orders", "source, document_id")),
    "a fact line lost": (
        "DELETE FROM order_lines WHERE document_id = '536380' AND line_no = 2",
        lambda con: checks.order_lines_match_clean(con, *WINDOW)),
    "a customer's revenue off": (
        "UPDATE customer_metrics SET net_revenue = net_revenue - 1 WHERE customer_id = 'u1'",
        lambda con: checks.whole_history_revenue(con, "customer_metrics", "net_revenue")),
    "a week not matching its days": (
        "UPDATE weekly_kpis SET value = value + 1 WHERE kpi = 'orders'",
        lambda con: checks.weekly_matches_daily(con, fx.D1, fx.D1 + timedelta(days=7))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_checks_pass_on_the_week_and_fail_on_a_wrong_number(built, tmp_path, case):
    tamper, check = CASES[case]
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built.warehouse.resolved_path(), copy)
    con = duckdb.connect(str(copy))
    try:
        assert check(con)[0], "passes on the correct tables"
        con.execute(tamper)
        passed, metadata = check(con)
    finally:
        con.close()
    assert not passed, metadata


def test_a_blocking_check_fails_the_run_on_a_wrong_fact(built, tmp_path):
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built.warehouse.resolved_path(), copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE order_lines SET gross_amount = gross_amount + 1, net_amount = net_amount + 1 WHERE document_id = 'T1'")
    resources = {**built.resources, "warehouse": Warehouse(path=str(copy))}
    result = materialize_range([daily_sales], resources, str(fx.D1), str(fx.D1), raise_on_error=False)
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["daily_sales_reconciles_with_orders"]
    assert failed[0].metadata["fact_gross"].value - failed[0].metadata["daily_gross"].value == pytest.approx(1.0)


def test_a_stored_table_check_runs_on_its_own_and_fails_on_a_duplicated_row(built, tmp_path):
    """orders_document_unique looks at the stored table only: it runs without rebuilding orders
    (as "Execute checks" in the UI does), and fails once a document is stored twice."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built.warehouse.resolved_path(), copy)
    resources = {**built.resources, "warehouse": Warehouse(path=str(copy))}

    def run_check_only() -> dg.ExecuteInProcessResult:
        return dg.materialize([orders, orders_checks], selection=dg.AssetSelection.checks(DOCUMENT_UNIQUE.key),
                              resources=resources, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)

    clean = run_check_only()
    assert clean.success and clean.get_asset_materialization_events() == []
    assert [(e.check_name, e.passed) for e in clean.get_asset_check_evaluations()] == [("orders_document_unique", True)]

    with duckdb.connect(str(copy)) as con:
        rows = con.execute("SELECT count(*) FROM orders").fetchone()[0]
        con.execute("INSERT INTO orders SELECT * FROM orders WHERE document_id = 'T1'")
    broken = run_check_only()
    assert broken.get_asset_materialization_events() == []  # the table was not rebuilt: the duplicate is still there
    (evaluation,) = broken.get_asset_check_evaluations()
    assert evaluation.check_name == "orders_document_unique" and not evaluation.passed
    assert evaluation.metadata["repeated_keys"].value == 1
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == rows + 1
