-- The rejected parsed events, with a readable detail of the rule each broke (numbers as they were
-- sent: JSON text, so "12,50" shows as a string and NULL as a missing one), and the delivered bytes
-- of a line that was not valid UTF-8 (raw_line holds it with U+FFFD replacements). An import
-- record its adapter rejected carries the adapter's detail.
INSERT INTO quarantine BY NAME
SELECT 'events' AS source, partition_date, source_file, line_number, reason_code,
       coalesce(import_detail, CASE reason_code
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
           WHEN 'invalid_price' THEN 'prices=' || CAST(sent_numbers.prices AS VARCHAR)
           WHEN 'duplicate_event' THEN 'event_id ' || event_id || ' already delivered'
           WHEN 'invalid_quantity' THEN 'quantities=' || CAST(sent_numbers.quantities AS VARCHAR)
           WHEN 'invalid_value' THEN 'value=' || CAST(sent_numbers.value AS VARCHAR)
           WHEN 'invalid_currency' THEN 'currency=' || currency
       END) AS reason_detail,
       event_id AS record_key, raw_line, raw_bytes
FROM _parsed_events WHERE reason_code IS NOT NULL
