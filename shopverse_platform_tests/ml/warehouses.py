"""Warehouses shared across test modules, each built once per session through the platform's own
assets; a module that writes works on its own copy of the file (copying is cheap), a module that only
reads may read the template itself.

- ``retail``: the real UCI Online Retail export, built in two runs: ``retail_orders`` (raw_orders,
  clean_order_lines: what the ingestion test checks), then, on a copy of it, the order facts, the
  customers, customer metrics, daily sales and anomalies (read by the metric, segmentation and
  model tests). The export is loaded and cleaned once per session instead of four times;
- ``hand_orders``: the hand-written orders of ``segmentation/fixture.py``, same assets;
- ``simulated``: simulator events (raw -> clean), for the purchase-propensity model.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from shopverse_platform.defs.cleaning.assets import (
    clean_events,
    clean_order_lines,
    dim_customers,
)
from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders
from shopverse_platform.defs.metrics.anomalies import anomalies, anomalies_checks
from shopverse_platform.defs.metrics.customers_seasonality import (
    customer_metrics,
    customer_metrics_checks,
)
from shopverse_platform.defs.metrics.facts import order_lines, orders, orders_checks
from shopverse_platform.defs.metrics.sales import daily_sales, daily_sales_checks
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.simulator.traffic import simulate
from shopverse_platform_tests.conftest import materialize_range
from shopverse_platform_tests.segmentation import fixture as fx

# The stored-table checks are definitions of their own (defs/checks.py): listed with their assets so
# the builds run them, as a job does.
ORDER_ASSETS = [raw_orders, clean_order_lines, order_lines, orders, dim_customers, customer_metrics,
                orders_checks, customer_metrics_checks]
RETAIL_ORDER_ASSETS = [raw_orders, clean_order_lines]
RETAIL_METRIC_ASSETS = [order_lines, orders, dim_customers, customer_metrics, daily_sales, anomalies,
                        orders_checks, customer_metrics_checks, daily_sales_checks, anomalies_checks]
RETAIL_DAYS = ("2010-12-01", "2011-12-09")
HAND_DAYS = ("2010-12-01", "2011-03-31")
SIMULATION = {"users": 4000, "days": 42, "start": date(2024, 1, 1), "seed": 5, "faults": 0}


@dataclass(frozen=True)
class Template:
    """A warehouse file built once per session, and the result of the run that built it."""

    path: Path
    result: dg.ExecuteInProcessResult

    def warehouse(self) -> Warehouse:
        return Warehouse(path=str(self.path))


_templates: dict[str, Template] = {}


def _build(name: str, tmp_path_factory: pytest.TempPathFactory, make, base: Template | None = None) -> Template:
    """Build the template ``name`` once per session with ``make(root, warehouse)``, starting from a
    copy of ``base`` when given."""
    if name not in _templates:
        root = tmp_path_factory.mktemp(f"template_{name}")
        warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
        if base is not None:
            shutil.copyfile(base.path, warehouse.resolved_path())
        with pytest.MonkeyPatch.context() as env:  # session scope: isolate like the autouse fixture does
            env.setenv("SHOPVERSE_DATA_DIR", str(root / "data"))
            for variable in ("SHOPVERSE_WAREHOUSE", "SHOPVERSE_LANDING_DIR", "SHOPVERSE_ORDER_EXPORTS"):
                env.delenv(variable, raising=False)
            result = make(root, warehouse)
        assert result.success
        _templates[name] = Template(warehouse.resolved_path(), result)
    return _templates[name]


def _copy(template: Template, tmp_path_factory: pytest.TempPathFactory, name: str) -> Warehouse:
    copy = tmp_path_factory.mktemp(name) / "warehouse.duckdb"
    shutil.copyfile(template.path, copy)
    return Warehouse(path=str(copy))


def _retail_resources(root: Path, warehouse: Warehouse, online_retail_file: Path) -> dict:
    zone = LandingZone(path=str(root / "landing"), order_exports=str(online_retail_file))
    return {"warehouse": warehouse, "landing_zone": zone}


def retail_orders(tmp_path_factory, online_retail_file: Path) -> Template:
    """The real export registered and cleaned over its whole range in one run. Read only."""
    def make(root, warehouse):
        return materialize_range(RETAIL_ORDER_ASSETS, _retail_resources(root, warehouse, online_retail_file), *RETAIL_DAYS)

    return _build("retail_orders", tmp_path_factory, make)


def retail_template(tmp_path_factory, online_retail_file: Path) -> Template:
    """``retail_orders`` and then, in a second run over the same range, the order facts, customers,
    customer metrics, daily sales and anomalies. Read only: writers take ``retail_warehouse``."""
    def make(root, warehouse):
        return materialize_range(RETAIL_METRIC_ASSETS, _retail_resources(root, warehouse, online_retail_file), *RETAIL_DAYS)

    return _build("retail", tmp_path_factory, make, base=retail_orders(tmp_path_factory, online_retail_file))


def retail_warehouse(tmp_path_factory, online_retail_file: Path, name: str) -> Warehouse:
    """A copy of ``retail_template`` of one's own, to write to."""
    return _copy(retail_template(tmp_path_factory, online_retail_file), tmp_path_factory, name)


def hand_orders_warehouse(tmp_path_factory, name: str) -> Warehouse:
    def make(root, warehouse):
        fx.write_orders(root / "landing")
        return materialize_range(ORDER_ASSETS, {"warehouse": warehouse, "landing_zone": LandingZone(path=str(root / "landing"))},
                                 *HAND_DAYS)

    return _copy(_build("hand_orders", tmp_path_factory, make), tmp_path_factory, name)


def simulated_warehouse(tmp_path_factory, name: str) -> Warehouse:
    def make(root, warehouse):
        simulate(root / "landing", **SIMULATION)
        last = SIMULATION["start"] + timedelta(days=SIMULATION["days"] - 1)
        return materialize_range([raw_events, clean_events], {"warehouse": warehouse, "landing_zone": LandingZone(path=str(root / "landing"))},
                                 str(SIMULATION["start"]), str(last))

    return _copy(_build("simulated", tmp_path_factory, make), tmp_path_factory, name)


_mlflow_templates: dict[str, Path] = {}


def mlflow_store(tmp_path_factory, name: str) -> Path:
    """A fresh, empty MLflow SQLite store for one test module: migrated once per session (the
    migrations take seconds), then copied."""
    if "mlflow" not in _mlflow_templates:
        from mlflow import MlflowClient

        path = tmp_path_factory.mktemp("template_mlflow") / "mlflow.db"
        MlflowClient(f"sqlite:///{path}").search_experiments()  # creates the schema
        _mlflow_templates["mlflow"] = path
    root = tmp_path_factory.mktemp(name)
    shutil.copyfile(_mlflow_templates["mlflow"], root / "mlflow.db")
    return root

