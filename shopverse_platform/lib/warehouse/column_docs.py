"""Column descriptions of the warehouse tables, from their one source: ``columns.toml`` beside this file.

The Dagster UI (``dagster/column_schema``, filled by ``defs/asset_helpers.table_metadata``) and
OpenLineage (the schema facet's field descriptions, ``defs/lineage/observer.py``) both read them
here, so a description is written once and the two never disagree. TOML (stdlib ``tomllib``), so
prose needs no escaping rules beyond quotes and nothing is read as a date or a boolean.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

COLUMNS_FILE = Path(__file__).with_name("columns.toml")


@cache
def column_docs() -> dict[str, dict[str, str]]:
    """table -> column -> description, for every documented table."""
    with COLUMNS_FILE.open("rb") as handle:
        return tomllib.load(handle)


def column_descriptions(table: str) -> dict[str, str]:
    """column -> description of ``table`` (``main.x`` or ``x``); empty for an undocumented table."""
    return column_docs().get(table.split(".")[-1], {})


def column_description(table: str, column: str) -> str | None:
    return column_descriptions(table).get(column)
