"""The cleaning layer's tables hand the SQL they really ran to lineage, as the metric tables do:
their materializations carry `dagster/column_lineage` (and the COMPLETE events the facet)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from shopverse_platform.defs.cleaning.assets import clean_events, dim_customers, dim_products, sessions
from shopverse_platform.defs.ingestion.assets import raw_events
from shopverse_platform.lib.simulator.traffic import simulate
from shopverse_platform_tests.conftest import materialize_range


def _deps(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, set[tuple[str, str]]]:
    metadata = result.asset_materializations_for_node(asset)[-1].metadata
    assert "lineage/column_lineage_error" not in metadata, metadata.get("lineage/column_lineage_error")
    lineage = metadata["dagster/column_lineage"].value
    return {column: {(d.asset_key.to_user_string(), d.column_name) for d in deps}
            for column, deps in lineage.deps_by_column.items()}


def test_sessions_and_dimensions_carry_their_column_lineage(landing_dir, resources):
    simulate(landing_dir, users=30, days=1, start=date(2024, 3, 5), seed=4, faults=0.0, progress=False)
    assert materialize_range([raw_events, clean_events], resources, "2024-03-05", "2024-03-05").success
    result = dg.materialize([sessions, dim_products, dim_customers], resources=resources)
    assert result.success
    session_deps = _deps(result, "sessions")
    # read off lib/cleaning/sessions.sql: a session starts at its first event and belongs to its visitor
    assert ("clean_events", "event_ts") in session_deps["session_start"]
    assert ("clean_events", "anonymous_id") in session_deps["anonymous_id"]
    customer_deps = _deps(result, "dim_customers")
    assert ("clean_events", "user_id") in customer_deps["customer_id"]
    # no order exports here: the SQL that ran read an empty stand-in, not clean_order_lines
    assert not any(table == "clean_order_lines" for deps in customer_deps.values() for table, _ in deps)
    # dim_products reads products out of the events' `items` lists: the parser follows no column
    # through unnest yet, so its lineage is empty (known gap, docs/lineage.md), but it is stated
    assert _deps(result, "dim_products") == {}
