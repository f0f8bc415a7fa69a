"""Warehouses shared by the segmentation and model tests, each built once per session through the
platform's own assets; every test module works on its own copy of the file.

- ``retail``: the real UCI Online Retail export (raw -> clean -> order facts -> customer metrics);
- ``hand_orders``: the hand-written orders of ``segmentation/fixture.py``, same assets;
- ``simulated``: simulator events (raw -> clean), for the purchase-propensity model.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from shopverse_platform.defs.cleaning.assets import (
    clean_events,
    clean_order_lines,
    dim_customers,
)
from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders
from shopverse_platform.defs.metrics.customers_seasonality import customer_metrics
from shopverse_platform.defs.metrics.facts import order_lines, orders
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.simulator.traffic import simulate
from shopverse_platform_tests.conftest import materialize_range
from shopverse_platform_tests.segmentation import fixture as fx

ORDER_ASSETS = [raw_orders, clean_order_lines, order_lines, orders, dim_customers, customer_metrics]
RETAIL_DAYS = ("2010-12-01", "2011-12-09")
HAND_DAYS = ("2010-12-01", "2011-03-31")
SIMULATION = {"users": 4000, "days": 42, "start": date(2024, 1, 1), "seed": 5, "faults": 0}
_templates: dict[str, Path] = {}


def _build(name: str, tmp_path_factory: pytest.TempPathFactory, make) -> Path:
    if name not in _templates:
        root = tmp_path_factory.mktemp(f"template_{name}")
        warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
        with pytest.MonkeyPatch.context() as env:  # session scope: isolate like the autouse fixture does
            env.setenv("SHOPVERSE_DATA_DIR", str(root / "data"))
            for variable in ("SHOPVERSE_WAREHOUSE", "SHOPVERSE_LANDING_DIR", "SHOPVERSE_ORDER_EXPORTS"):
                env.delenv(variable, raising=False)
            result = make(root, warehouse)
        assert result.success
        _templates[name] = warehouse.resolved_path()
    return _templates[name]


def _copy(template: Path, tmp_path_factory: pytest.TempPathFactory, name: str) -> Warehouse:
    copy = tmp_path_factory.mktemp(name) / "warehouse.duckdb"
    shutil.copyfile(template, copy)
    return Warehouse(path=str(copy))


def retail_warehouse(tmp_path_factory, online_retail_file: Path, name: str) -> Warehouse:
    def make(root, warehouse):
        zone = LandingZone(path=str(root / "landing"), order_exports=str(online_retail_file))
        return materialize_range(ORDER_ASSETS, {"warehouse": warehouse, "landing_zone": zone}, *RETAIL_DAYS)

    return _copy(_build("retail", tmp_path_factory, make), tmp_path_factory, name)


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


def mlflow_store(tmp_path_factory, name: str) -> Path:
    """A fresh, empty MLflow SQLite store for one test module: migrated once per session (the
    migrations take seconds), then copied."""
    if "mlflow" not in _templates:
        from mlflow import MlflowClient

        path = tmp_path_factory.mktemp("template_mlflow") / "mlflow.db"
        MlflowClient(f"sqlite:///{path}").search_experiments()  # creates the schema
        _templates["mlflow"] = path
    root = tmp_path_factory.mktemp(name)
    shutil.copyfile(_templates["mlflow"], root / "mlflow.db")
    return root

