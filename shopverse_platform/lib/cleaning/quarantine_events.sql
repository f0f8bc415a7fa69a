-- The rejected parsed events, with a readable detail of the rule each broke.
INSERT INTO quarantine BY NAME
SELECT 'events' AS source, partition_date, source_file, line_number, reason_code,
       CASE reason_code
           WHEN 'malformed_json' THEN 'not a JSON object'
           WHEN 'invalid_encoding' THEN 'invalid UTF-8 bytes'
           WHEN 'schema_violation' THEN 'missing: ' || concat_ws(', ',
                CASE WHEN event_id IS NULL OR trim(event_id) = '' THEN 'event_id' END,
                CASE WHEN raw_event_name IS NULL THEN 'event_name' END,
                CASE WHEN event_time_text IS NULL THEN 'event_time' END,
                CASE WHEN anonymous_id IS NULL THEN 'anonymous_id' END)
           WHEN 'unknown_event_type' THEN 'event_name=' || raw_event_name
           WHEN 'bad_timestamp' THEN 'event_time=' || event_time_text
           WHEN 'future_timestamp' THEN 'event_time=' || event_time_text || ' landing day=' || partition_date
           WHEN 'ancient_timestamp' THEN 'event_time=' || event_time_text || ' landing day=' || partition_date
           WHEN 'missing_items' THEN event_name || ' without items'
           WHEN 'invalid_price' THEN 'prices=' || CAST([i.price FOR i IN items] AS VARCHAR)
           WHEN 'duplicate_event' THEN 'event_id ' || event_id || ' already delivered'
           WHEN 'invalid_currency' THEN 'currency=' || currency
       END AS reason_detail,
       event_id AS record_key, raw_line
FROM _parsed_events WHERE reason_code IS NOT NULL
