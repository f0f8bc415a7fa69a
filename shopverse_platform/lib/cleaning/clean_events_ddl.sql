-- The clean shop events; the items' struct type is the one lib/warehouse/shapes.py defines.
CREATE TABLE IF NOT EXISTS clean_events (
    event_id VARCHAR, event_name VARCHAR, event_ts TIMESTAMP, event_date DATE, user_id VARCHAR,
    anonymous_id VARCHAR, session_id VARCHAR, session_source VARCHAR, page VARCHAR, referrer VARCHAR,
    utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR, search_term VARCHAR, device VARCHAR,
    country VARCHAR, items {{items_type}}, value DOUBLE, currency VARCHAR, transaction_id VARCHAR,
    is_legacy BOOLEAN, partition_date DATE, source_file VARCHAR, line_number INTEGER
)
