-- Landing lines of [start, end) typed and judged: a NULL reason_code (valid so far) or the first
-- rule the line breaks. The verbatim line is kept only for rejected rows (it goes to the
-- quarantine); clean rows point at it by file and line.
-- $structure: the JSON structure of an event (event_schema.EVENT_STRUCTURE); $legacy_names and
-- $legacy_targets: old event names and what they are now, in the same order.
CREATE OR REPLACE TEMP TABLE _parsed_events AS
WITH src AS (
    SELECT partition_date, source_file, line_number, encoding_error, raw_line,
           -- only objects qualify; json_valid first because TRY(json_transform(...))
           -- measured 5x slower than this guard (it drops DuckDB's vectorised path)
           CASE WHEN NOT encoding_error AND (starts_with(raw_line, '{') OR ltrim(raw_line) LIKE '{%')
                     AND json_valid(raw_line)
                THEN json_transform(raw_line, $structure) END AS j
    FROM _landed_lines
),
normalised AS (
    SELECT partition_date, source_file, line_number, encoding_error, raw_line, j,
           coalesce(j.event_name, j.event_type) AS raw_event_name,
           coalesce(MAP($legacy_names, $legacy_targets)[coalesce(j.event_name, j.event_type)],
                    coalesce(j.event_name, j.event_type)) AS event_name,
           coalesce(j.event_name, j.event_type) IN (SELECT unnest($legacy_names))
               OR (j.event_name IS NULL AND j.event_type IS NOT NULL) AS is_legacy,
           j.event_id AS event_id,
           CASE WHEN regexp_matches(j.event_time, '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$')
                THEN try_cast(j.event_time AS TIMESTAMPTZ) AT TIME ZONE 'UTC' END AS event_ts,
           coalesce(j.anonymous_id, j.device_id) AS anonymous_id,
           CASE WHEN len(j.items) > 0 THEN j.items
                WHEN j.product_id IS NOT NULL THEN [{
                    'item_id': j.product_id, 'item_name': j.product_name,
                    'item_category': j.category, 'price': j.price,
                    'quantity': coalesce(j.quantity, 1)}]
                ELSE [] END AS items
    FROM src
),
judged AS (
    SELECT *,
        CASE
            WHEN encoding_error THEN 'invalid_encoding'
            WHEN j IS NULL THEN 'malformed_json'
            WHEN event_id IS NULL OR trim(event_id) = '' OR raw_event_name IS NULL
                 OR j.event_time IS NULL OR anonymous_id IS NULL THEN 'schema_violation'
            WHEN event_name NOT IN (SELECT unnest($event_types)) THEN 'unknown_event_type'
            WHEN event_ts IS NULL THEN 'bad_timestamp'
            WHEN event_ts >= partition_date + INTERVAL 1 DAY + INTERVAL ($future_tolerance_hours) HOUR
                 OR event_ts > now() AT TIME ZONE 'UTC' + INTERVAL 1 HOUR THEN 'future_timestamp'
            WHEN event_ts < partition_date - INTERVAL ($max_lateness_days) DAY THEN 'ancient_timestamp'
            WHEN event_name IN (SELECT unnest($item_events)) AND len(items) = 0 THEN 'missing_items'
            WHEN event_name IN (SELECT unnest($monetary_events))
                 AND (len(items) = 0 OR list_bool_or([i.price IS NULL OR i.price < 0 FOR i IN items]))
                 THEN 'invalid_price'
            -- a purchase or refund whose currency cannot be an ISO 4217 code could not be converted
            -- to the reporting currency, nor read in its own: rejected, not guessed (none = GBP)
            WHEN event_name IN (SELECT unnest($monetary_events)) AND j.currency IS NOT NULL
                 AND NOT regexp_full_match(trim(j.currency), '[A-Za-z]{3}') THEN 'invalid_currency'
        END AS reason_code
    FROM normalised
)
SELECT partition_date, source_file, line_number, event_id, event_name, raw_event_name,
       is_legacy, event_ts, anonymous_id, items, j.event_time AS event_time_text,
       j.user_id AS user_id, j.session_id AS tracker_session_id, j.page AS page,
       j.referrer AS referrer, j.utm_source AS utm_source, j.utm_medium AS utm_medium,
       j.utm_campaign AS utm_campaign, j.search_term AS search_term, j.device AS device,
       j.country AS country, j.value AS value, j.currency AS currency,
       j.transaction_id AS transaction_id, reason_code,
       CASE WHEN reason_code IS NOT NULL THEN raw_line END AS raw_line
FROM judged
WHERE partition_date >= $start AND partition_date < $end
