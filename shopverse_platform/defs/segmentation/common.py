"""What the segmentation assets share: their layer, configuration and the as-of day."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
from pydantic import Field

from shopverse_platform.defs.asset_shapes import DATA_SCIENCE
from shopverse_platform.lib.segmentation.customers import last_order_date

SEGMENTATION = DATA_SCIENCE.with_group("segmentation")


class CustomerSegmentationConfig(dg.Config):
    as_of_date: str | None = Field(default=None, description="Day (YYYY-MM-DD) the segments describe. Unset: the last day with orders.")
    order_source: str | None = Field(default=None, description="Only orders of this source ('events' or 'order_export'). Unset: all.")


def resolve_as_of(con: duckdb.DuckDBPyConnection, configured: str | None, order_source: str | None) -> date | None:
    if configured:
        return date.fromisoformat(configured)
    return last_order_date(con, order_source)

