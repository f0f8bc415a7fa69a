-- The file registry of those days, built beside the old table before it replaces it.
CREATE OR REPLACE TABLE _raw_events_registry AS SELECT * FROM _registry
