"""The detail of a run over a range of partitions, recorded once instead of once per partition.

A step that writes a range of daily partitions in one go (a backfill, `shopverse run`) yields one
`MaterializeResult`; Dagster records one materialization per partition, each with a copy of the
result's metadata. Most of that metadata describes the table and the statement, not the day: the
column schema, the column lineage and the SQL (about 28 of each event's 30 KB for `order_lines`).
Copied onto every partition, the UCI year's 374 days wrote ~138 KB per day and asset chain,
serialised and stored twice (the run's and the index database): 100 MB of the same bytes.

So in a range run, the detail entries go on the range's last partition only, through Dagster's
partition-scoped metadata (`context.add_asset_metadata(..., partition_key=...)`), and every other
partition's materialization carries the small entries (row counts, the window, the table) and
`detail_on_partition`, naming the partition that holds the rest. The last partition is stored last,
so the asset's latest materialization, which the UI reads for its columns and lineage tabs, has
everything. A single-partition or unpartitioned run is left as it is. The lineage observer sees the
result before this (policy.py), whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

# Metadata values that describe the table or the statement (the same for every partition of a run)
# and weigh kilobytes: the column schema and lineage by type, any text by its length.
DETAIL_TYPES = (dg.TableSchemaMetadataValue, dg.TableColumnLineageMetadataValue, dg.TableSchema,
                dg.TableColumnLineage)
TEXT_TYPES = (str, dg.TextMetadataValue, dg.MarkdownMetadataValue, dg.JsonMetadataValue)
DETAIL_TEXT_CHARS = 1_000
DETAIL_ON_KEY = "detail_on_partition"


def is_detail(value: Any) -> bool:
    """Whether a metadata value is table- or statement-level detail worth recording only once."""
    if isinstance(value, DETAIL_TYPES):
        return True
    if isinstance(value, TEXT_TYPES):
        text = value if isinstance(value, str) else str(value.value)  # a JSON value's data as text
        return len(text) > DETAIL_TEXT_CHARS
    return False


def split_detail(metadata: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``metadata`` as (the entries every partition keeps, the detail entries)."""
    kept = {key: value for key, value in metadata.items() if not is_detail(value)}
    detail = {key: value for key, value in metadata.items() if is_detail(value)}
    return kept, detail


def detail_once_per_range(context: dg.OpExecutionContext, item: Any) -> Any:
    """``item`` as the step should yield it: a `MaterializeResult` of a run over several partitions
    with its detail entries moved to the range's last partition; anything else unchanged."""
    if not isinstance(item, dg.MaterializeResult) or not item.metadata:
        return item
    if context.assets_def.partitions_def is None or not context.has_partition_key_range:
        return item  # an unpartitioned asset in a run over a range has no partitions to spread over
    keys = context.partition_keys
    if len(keys) < 2:
        return item
    kept, detail = split_detail(item.metadata)
    if not detail:
        return item
    last = keys[-1]
    context.add_asset_metadata(detail, asset_key=item.asset_key, partition_key=last)
    return item._replace(metadata={**kept, DETAIL_ON_KEY: last})
