"""SQL kept in ``.sql`` files beside the module that runs it, loaded by name.

Values (dates, paths, thresholds, limits, lists) never enter the SQL text: a ``.sql`` file names
them as DuckDB parameters (``$start``, ``$path``, ``$line_types``) and the caller binds them. Only
two things can be spliced into a loaded text, at ``{{name}}`` placeholders, and both are closed:

- a table name: one of ``WAREHOUSE_TABLES``, or a connection-local temp table (``_`` + lowercase
  letters, digits and underscores), checked by :func:`table`;
- another loaded text (:class:`SqlText`), for a fragment several queries share, such as the bot rule.

So neither a file path nor a config value can change what a query does. The text of each file is
also what lineage parses for column lineage (``lib/lineage/column_lineage.py``).

    from shopverse_platform.lib.warehouse.sql import load_sql, table
    con.execute(load_sql(__file__, "daily_sales", events=table("clean_events")), {"start": s, "end": e})
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

# Every persistent table of the warehouse: the assets' tables and the bookkeeping tables beside them.
WAREHOUSE_TABLES: frozenset[str] = frozenset({
    # ingestion
    "raw_events", "raw_orders", "order_export_files",
    # cleaning
    "clean_events", "clean_order_lines", "quarantine", "input_quality", "cleaned_landing_files", "sessions",
    "sessions_sources", "session_partitions", "session_hours", "busy_sessions", "dim_customers", "dim_products",
    "dimension_sources", "product_observations", "customer_observations", "partition_fingerprints",
    "visitor_observations", "purchase_observations", "event_name_observations",
    # metrics
    "orders", "order_lines", "daily_sales", "daily_traffic", "funnel_daily", "cart_abandonment",
    "product_performance", "customer_metrics", "seasonality", "anomalies", "weekly_kpis",
    "customer_totals", "customer_sources", "customer_order_days",
    # segmentation
    "value_tiers", "rfm_segments", "behaviour_clusters", "behaviour_cluster_profiles", "behaviour_cluster_model",
    "intent_segments",
    "segment_snapshots",
    "segment_movements",
    # ml
    "propensity_training_set", "churn_training_set", "clv_training_set",
    "propensity_scores", "churn_scores", "clv_scores",
    # automation
    "alerts",
})

_TEMP_TABLE = re.compile(r"_[a-z][a-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


class SqlText(str):
    """SQL read from a ``.sql`` file of this package, or composed only of such texts and table names."""


class TableName(str):
    """A table name checked against the closed set (see :func:`table`)."""


def table(name: str) -> TableName:
    """``name`` as a table identifier, if it is a warehouse table or a connection-local temp table."""
    if name in WAREHOUSE_TABLES or _TEMP_TABLE.fullmatch(name):
        return TableName(name)
    raise ValueError(f"not a warehouse table: {name!r} (known tables: lib/warehouse/sql.py WAREHOUSE_TABLES)")


@cache
def _read(path: Path) -> str:
    return path.read_text()


def load_sql(module_file: str | Path, name: str, **parts: SqlText | TableName) -> SqlText:
    """The query ``<name>.sql`` beside ``module_file`` (pass ``__file__``), with its ``{{part}}``
    placeholders filled by table names (:func:`table`) or other loaded texts (:class:`SqlText`).

    A placeholder without a part, a part without a placeholder, or a part of any other type (a
    plain ``str`` could carry a value) is an error, so a mistake fails at the first run."""
    path = Path(module_file).with_name(f"{name}.sql")
    text = _read(path)
    wanted = set(_PLACEHOLDER.findall(text))
    if wanted != set(parts):
        raise ValueError(f"{path.name}: placeholders {sorted(wanted)} but parts {sorted(parts)}")
    for key, part in parts.items():
        if not isinstance(part, (SqlText, TableName)):
            raise TypeError(f"{path.name}: part {key!r} must be a table() or a loaded SqlText, not {type(part).__name__}")
    return SqlText(_PLACEHOLDER.sub(lambda m: str(parts[m.group(1)]), text))
