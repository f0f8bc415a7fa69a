"""What the segmentation assets share: ownership, configuration, the as-of day and check helpers."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
from pydantic import Field

from shopverse_platform.lib.segmentation.customers import last_order_date

OWNERS = ["team:data-science"]
GROUP = "segmentation"


class CustomerSegmentationConfig(dg.Config):
    as_of_date: str | None = Field(default=None, description="Day (YYYY-MM-DD) the segments describe. Unset: the last day with orders.")
    order_source: str | None = Field(default=None, description="Only orders of this source ('events' or 'order_export'). Unset: all.")


def resolve_as_of(con: duckdb.DuckDBPyConnection, configured: str | None, order_source: str | None) -> date | None:
    if configured:
        return date.fromisoformat(configured)
    return last_order_date(con, order_source)


def spec(asset: str, name: str, description: str, blocking: bool = False) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name=f"{asset}_{name}", asset=asset, blocking=blocking, description=description)


def result(asset: str, name: str, outcome: tuple[bool, dict]) -> dg.AssetCheckResult:
    passed, metadata = outcome
    return dg.AssetCheckResult(
        check_name=f"{asset}_{name}", asset_key=asset, passed=bool(passed),
        metadata={k: dg.MetadataValue.json(v) if isinstance(v, (list, dict)) else v for k, v in metadata.items()},
    )
