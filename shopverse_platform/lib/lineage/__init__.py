"""OpenLineage for the platform, without Dagster objects: names, events, column lineage, transport.

- ``naming``          one name per job and dataset (asset key -> ``shopverse/clean_events``,
                      ``duckdb://<warehouse>/main.clean_events``, ``file://<host>/<path>``, ``mlflow://...``)
- ``run_events``      START / COMPLETE / FAIL / ABORT run events with the standard facets
- ``column_lineage``  output column -> source columns, from the SQL that builds a table (DuckDB's parser)
- ``source``          file, line and git commit of an asset's function
- ``transport``       HTTP with a local buffer and idempotent replay; the NDJSON file default
- ``emitter``         settings read at run time and the openlineage-python client built from them

The Dagster side (the global policy that instruments every asset, the `lineage` resource,
``sql_lineage_metadata``) lives in ``shopverse_platform/defs/lineage``; ``shopverse lineage
replay|status`` in ``shopverse_platform/cli``. See docs/lineage.md.
"""
