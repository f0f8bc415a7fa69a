"""Fixtures of the model tests: warehouses (real, hand-written, simulated) with a local MLflow store."""

from __future__ import annotations

import pytest

from shopverse_platform.defs.ml.resources import MlflowTracking
from shopverse_platform_tests.conftest import Built
from shopverse_platform_tests.ml.warehouses import (
    hand_orders_warehouse,
    mlflow_store,
    retail_warehouse,
    simulated_warehouse,
)


def with_mlflow(warehouse, root) -> Built:
    tracking = MlflowTracking(tracking_uri=f"sqlite:///{root / 'mlflow.db'}", artifact_location=str(root / "artifacts"))
    return Built(warehouse, {"warehouse": warehouse, "mlflow_tracking": tracking})


@pytest.fixture(scope="module")
def retail(tmp_path_factory, online_retail_file) -> Built:
    return with_mlflow(retail_warehouse(tmp_path_factory, online_retail_file, "ml_retail"), mlflow_store(tmp_path_factory, "ml_retail_mlflow"))


@pytest.fixture(scope="module")
def hand_orders(tmp_path_factory) -> Built:
    warehouse = hand_orders_warehouse(tmp_path_factory, "ml_hand_orders")
    return Built(warehouse, {"warehouse": warehouse})


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Built:
    return with_mlflow(simulated_warehouse(tmp_path_factory, "ml_simulated"), mlflow_store(tmp_path_factory, "ml_simulated_mlflow"))
