"""OpenLineage for the platform, without Dagster objects: names, events, column lineage, transport.

- ``naming``          one name per job and dataset (asset key -> ``shopverse/clean_events``,
                      ``duckdb://<warehouse>/main.clean_events``, ``file://<host>/<path>``, ``mlflow://...``)
- ``events``          START / COMPLETE / FAIL / ABORT run events with the standard facets
- ``column_lineage``  output column -> source columns, from the SQL that builds a table (DuckDB's parser)
- ``transport``       HTTP with a local buffer and idempotent replay; the NDJSON file default
- ``emitter``         settings read at run time and the openlineage-python client built from them
- ``cli``             ``shopverse lineage replay|status``

The Dagster side (the global policy that instruments every asset, the `lineage` resource) lives in
``shopverse_platform/defs/lineage``. See docs/lineage.md.
"""
