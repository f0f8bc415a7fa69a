"""Each windowed metric table's materialization reports, as `dagster/row_count`, the rows of the
run's window and, as `total_rows`, the table's: counted here in the warehouse the run wrote. The
steps hand over the count of the rows they wrote (table_metadata's ``window_rows``) instead of
counting the window again; a one-day rerun on the built week tells the window from the table."""

from __future__ import annotations

import shutil
from datetime import timedelta

from shopverse_platform.defs.resources import Warehouse
from shopverse_platform_tests.conftest import materialize_range
from shopverse_platform_tests.metrics import fixture as fx
from shopverse_platform_tests.metrics.conftest import DAILY_METRICS, UPSTREAM

DATE_COLUMNS = {"order_lines": "order_date", "orders": "order_date", "daily_sales": "sales_date",
                "daily_traffic": "traffic_date", "funnel_daily": "funnel_date", "cart_abandonment": "cart_date",
                "product_performance": "product_date"}


def _reported(run) -> dict[str, tuple[int, int]]:
    return {event.asset_key.to_user_string(): (event.materialization.metadata["dagster/row_count"].value,
                                                event.materialization.metadata["total_rows"].value)
            for event in run.get_asset_materialization_events()
            if "total_rows" in event.materialization.metadata}


def _counted(warehouse: Warehouse, first, last) -> dict[str, tuple[int, int]]:
    with warehouse.connect(read_only=True) as con:
        return {table: con.execute(f"SELECT count(*) FILTER (WHERE {column} >= ? AND {column} < ?), count(*) FROM {table}",
                                   [first, last + timedelta(days=1)]).fetchone()
                for table, column in DATE_COLUMNS.items()}


def test_each_windowed_table_reports_the_rows_of_its_window_and_its_total(built, tmp_path):
    week = _counted(built.warehouse, fx.D1, fx.WEEK_END)
    assert all(rows > 0 for rows, _ in week.values()), week  # the week holds rows of every table
    assert {table: _reported(built.daily_run)[table] for table in DATE_COLUMNS} == week

    # one day of the same week again, on a copy: its window is a part of each table
    copy = Warehouse(path=str(tmp_path / "copy.duckdb"))
    shutil.copy(built.warehouse.resolved_path(), copy.resolved_path())
    rerun = materialize_range(UPSTREAM + DAILY_METRICS, {**built.resources, "warehouse": copy}, str(fx.D2), str(fx.D2))
    assert rerun.success
    day = _counted(copy, fx.D2, fx.D2)
    assert all(0 < rows < total for rows, total in day.values()), day
    assert {table: _reported(rerun)[table] for table in DATE_COLUMNS} == day

    with built.warehouse.connect(read_only=True) as con:
        kpis = con.execute("SELECT count(*) FROM weekly_kpis WHERE week_start = ?", [fx.D1]).fetchone()[0]
    assert kpis > 0 and _reported(built.weekly_run)["weekly_kpis"] == (kpis, kpis)
