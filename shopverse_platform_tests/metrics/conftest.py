"""Fixtures of the metric tests: the hand-written week, built once per session through Dagster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from shopverse_platform.defs.cleaning.assets import (
    clean_events,
    clean_order_lines,
    dim_customers,
    dim_products,
    sessions,
)
from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders
from shopverse_platform.defs.metrics.anomalies import anomalies, anomalies_checks
from shopverse_platform.defs.metrics.customers_seasonality import (
    customer_metrics,
    customer_metrics_checks,
    seasonality,
    seasonality_checks,
)
from shopverse_platform.defs.metrics.facts import order_lines, orders, orders_checks
from shopverse_platform.defs.metrics.sales import daily_sales, daily_sales_checks
from shopverse_platform.defs.metrics.session_metrics import session_metrics
from shopverse_platform.defs.metrics.weekly import weekly_kpis
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform_tests.conftest import Built as BaseBuilt
from shopverse_platform_tests.conftest import materialize_range
from shopverse_platform_tests.metrics import fixture as fx

UPSTREAM = [raw_events, clean_events, raw_orders, clean_order_lines, sessions, dim_customers, dim_products]
# with the checks of the stored tables, which run on their own (defs/checks.py)
DAILY_METRICS = [order_lines, orders, daily_sales, session_metrics, orders_checks, daily_sales_checks]
WHOLE_HISTORY_METRICS = [customer_metrics, seasonality, anomalies, customer_metrics_checks, seasonality_checks, anomalies_checks]
METRICS = DAILY_METRICS + WHOLE_HISTORY_METRICS
METRIC_TABLES = [k.to_user_string() for a in METRICS for k in a.keys] + ["weekly_kpis"]


@dataclass
class Built(BaseBuilt):
    """The hand-written week, with the results of its daily and weekly runs."""

    daily_run: dg.ExecuteInProcessResult
    weekly_run: dg.ExecuteInProcessResult


def build_week(root: Path) -> tuple[Warehouse, dict]:
    landing = root / "landing"
    fx.write_landing(landing)
    warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
    return warehouse, {"warehouse": warehouse, "landing_zone": LandingZone(path=str(landing))}


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("metrics_week")
    with pytest.MonkeyPatch.context() as env:  # session scope: isolate like the autouse fixture does
        env.setenv("SHOPVERSE_DATA_DIR", str(root / "data"))
        for name in ("SHOPVERSE_WAREHOUSE", "SHOPVERSE_LANDING_DIR", "SHOPVERSE_ORDER_EXPORTS"):
            env.delenv(name, raising=False)
        warehouse, resources = build_week(root)
        daily = materialize_range(UPSTREAM + METRICS, resources, str(fx.D1), str(fx.WEEK_END))
        assert daily.success
        weekly = materialize_range([weekly_kpis], resources, str(fx.D1), str(fx.D1))
        assert weekly.success
    return Built(warehouse, resources, daily, weekly)
