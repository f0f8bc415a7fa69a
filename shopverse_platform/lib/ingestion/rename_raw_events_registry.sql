ALTER TABLE _raw_events_registry RENAME TO raw_events
