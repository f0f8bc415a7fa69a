DROP TABLE raw_events
