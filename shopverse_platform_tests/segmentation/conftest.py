"""Fixtures of the segmentation tests: the hand-written orders and events, and the real export."""

from __future__ import annotations

import pytest

from shopverse_platform.defs.cleaning.assets import clean_events
from shopverse_platform.defs.ingestion.assets import raw_events
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform_tests.conftest import Built, materialize_range
from shopverse_platform_tests.ml.warehouses import (
    hand_orders_warehouse,
    retail_warehouse,
)
from shopverse_platform_tests.segmentation import fixture as fx


@pytest.fixture(scope="module")
def hand_orders(tmp_path_factory) -> Built:
    warehouse = hand_orders_warehouse(tmp_path_factory, "segmentation_orders")
    return Built(warehouse, {"warehouse": warehouse})


@pytest.fixture(scope="module")
def hand_events(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("segmentation_events")
    first, last = fx.write_events(root / "landing")
    warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
    resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=str(root / "landing"))}
    result = materialize_range([raw_events, clean_events], resources, first, last)
    assert result.success
    return Built(warehouse, resources)


@pytest.fixture(scope="module")
def retail(tmp_path_factory, online_retail_file) -> Built:
    warehouse = retail_warehouse(tmp_path_factory, online_retail_file, "segmentation_retail")
    return Built(warehouse, {"warehouse": warehouse})
