-- Landing lines of [start, end) typed and judged: a NULL reason_code (valid so far) or the first
-- rule the line breaks. The verbatim line is kept only for rejected rows (it goes to the
-- quarantine); clean rows point at it by file and line.
-- $structure: the JSON structure of an event (event_schema.EVENT_STRUCTURE); $legacy_names and
-- $legacy_targets: old event names and what they are now, in the same order. Prices, quantities
-- and the value arrive as JSON text: a number, or a string holding one, is typed here (trim of the
-- quotes, then try_cast), so "two", "12,50" or true stay visible as not numbers instead of
-- becoming NULL, and 1.7 is seen before it could be rounded. $max_money and $max_quantity: the
-- domains of event_schema.py (money below MAX_MONEY, whole quantities up to MAX_ITEM_QUANTITY).
CREATE OR REPLACE TEMP TABLE _parsed_events AS
WITH src AS (
    SELECT partition_date, source_file, line_number, encoding_error, raw_line, raw_bytes,
           source_line, import_reason, import_detail,
           -- only objects qualify; json_valid first because TRY(json_transform(...))
           -- measured 5x slower than this guard (it drops DuckDB's vectorised path)
           CASE WHEN NOT encoding_error AND (starts_with(raw_line, '{') OR ltrim(raw_line) LIKE '{%')
                     AND json_valid(raw_line)
                THEN json_transform(raw_line, $structure) END AS j
    FROM _landed_lines
),
normalised AS (
    SELECT partition_date, source_file, line_number, encoding_error, raw_line, raw_bytes,
           source_line, import_reason, import_detail, j,
           coalesce(j.event_name, j.event_type) AS raw_event_name,
           coalesce(MAP($legacy_names, $legacy_targets)[coalesce(j.event_name, j.event_type)],
                    coalesce(j.event_name, j.event_type)) AS event_name,
           coalesce(j.event_name, j.event_type) IN (SELECT unnest($legacy_names))
               OR (j.event_name IS NULL AND j.event_type IS NOT NULL) AS is_legacy,
           j.event_id AS event_id,
           -- the offset must be a real one: at most 14:00 either way, minutes below 60 (the cast
           -- alone accepts +99:99 and shifts the time by it). A time without seconds gets ":00":
           -- DuckDB 1.5 does not cast "10:30Z" or "10:30+01" (2.0 does, as 10:30:00)
           CASE WHEN regexp_matches(j.event_time, '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-](0\d|1[0-3])(:?[0-5]\d)?|[+-]14(:?00)?)$')
                THEN try_cast(CASE WHEN substr(j.event_time, 17, 1) = ':' THEN j.event_time
                                   ELSE left(j.event_time, 16) || ':00' || substr(j.event_time, 17) END
                              AS TIMESTAMPTZ) AT TIME ZONE 'UTC' END AS event_ts,
           coalesce(j.anonymous_id, j.device_id) AS anonymous_id,
           -- the legacy tracker's flat item fields; its missing quantity was always one
           CASE WHEN len(j.items) > 0 THEN j.items
                WHEN j.product_id IS NOT NULL THEN [{
                    'item_id': j.product_id, 'item_name': j.product_name,
                    'item_category': j.category, 'price': j.price,
                    'quantity': coalesce(j.quantity, '1'::JSON)}]
                ELSE [] END AS sent_items,
           j.value AS sent_value,
           try_cast(trim(CAST(j.value AS VARCHAR), '"') AS DOUBLE) AS value
    FROM src
),
typed AS (
    SELECT *,
           [{'item_id': i.item_id, 'item_name': i.item_name, 'item_category': i.item_category,
             'price': try_cast(trim(CAST(i.price AS VARCHAR), '"') AS DOUBLE),
             'quantity': try_cast(trim(CAST(i.quantity AS VARCHAR), '"') AS DOUBLE),
             'price_sent': i.price IS NOT NULL, 'quantity_sent': i.quantity IS NOT NULL}
            FOR i IN sent_items] AS typed_items
    FROM normalised
),
judged AS (
    SELECT *,
        CASE
            -- an import record its adapter could not map to an event (lib/ingestion/adapters)
            WHEN import_reason IS NOT NULL THEN import_reason
            WHEN encoding_error THEN 'invalid_encoding'
            WHEN j IS NULL THEN 'malformed_json'
            WHEN event_id IS NULL OR trim(event_id) = '' OR raw_event_name IS NULL
                 OR j.event_time IS NULL OR anonymous_id IS NULL THEN 'schema_violation'
            WHEN event_name NOT IN (SELECT unnest($event_types)) THEN 'unknown_event_type'
            WHEN event_ts IS NULL THEN 'bad_timestamp'
            WHEN event_ts >= partition_date + INTERVAL 1 DAY + INTERVAL ($future_tolerance_hours) HOUR
                 OR event_ts > now() AT TIME ZONE 'UTC' + INTERVAL 1 HOUR THEN 'future_timestamp'
            WHEN event_ts < partition_date - INTERVAL ($max_lateness_days) DAY THEN 'ancient_timestamp'
            WHEN event_name IN (SELECT unnest($item_events)) AND len(typed_items) = 0 THEN 'missing_items'
            -- a purchase or refund needs every price; any event's price, when sent, must be money
            WHEN event_name IN (SELECT unnest($monetary_events))
                 AND (len(typed_items) = 0 OR list_bool_or([NOT i.price_sent FOR i IN typed_items]))
                 THEN 'invalid_price'
            WHEN list_bool_or([i.price_sent AND NOT coalesce(isfinite(i.price) AND i.price >= 0
                                                             AND i.price < $max_money, false)
                               FOR i IN typed_items]) THEN 'invalid_price'
            -- a quantity, when sent, is a whole count; a missing one counts as one downstream
            WHEN list_bool_or([i.quantity_sent AND NOT coalesce(isfinite(i.quantity) AND i.quantity = floor(i.quantity)
                                                                AND i.quantity BETWEEN 1 AND $max_quantity, false)
                               FOR i IN typed_items]) THEN 'invalid_quantity'
            WHEN sent_value IS NOT NULL
                 AND NOT coalesce(isfinite(value) AND value >= 0 AND value < $max_money, false) THEN 'invalid_value'
            -- a purchase or refund whose currency cannot be an ISO 4217 code could not be converted
            -- to the reporting currency, nor read in its own: rejected, not guessed (none = GBP)
            WHEN event_name IN (SELECT unnest($monetary_events)) AND j.currency IS NOT NULL
                 AND NOT regexp_full_match(trim(j.currency), '[A-Za-z]{3}') THEN 'invalid_currency'
        END AS reason_code
    FROM typed
)
SELECT partition_date, source_file, line_number, event_id, event_name, raw_event_name,
       is_legacy, event_ts, anonymous_id,
       -- the items as clean_events stores them; try_cast: a rejected row may hold any number
       [{'item_id': i.item_id, 'item_name': i.item_name, 'item_category': i.item_category,
         'price': i.price, 'quantity': try_cast(i.quantity AS INTEGER)} FOR i IN typed_items] AS items,
       j.event_time AS event_time_text,
       j.user_id AS user_id, j.session_id AS tracker_session_id, j.page AS page,
       j.referrer AS referrer, j.utm_source AS utm_source, j.utm_medium AS utm_medium,
       j.utm_campaign AS utm_campaign, j.search_term AS search_term, j.device AS device,
       j.country AS country, value, j.currency AS currency,
       j.transaction_id AS transaction_id, reason_code,
       -- an import's record as the other tool sent it, not our mapping of it
       CASE WHEN reason_code IS NOT NULL THEN coalesce(source_line, raw_line) END AS raw_line,
       import_detail,
       -- the bytes as delivered, where the text had to replace some (invalid UTF-8)
       CASE WHEN reason_code IS NOT NULL THEN raw_bytes END AS raw_bytes,
       -- the numbers as sent, for the quarantine's detail
       CASE WHEN reason_code IN ('invalid_price', 'invalid_quantity', 'invalid_value')
            THEN {'prices': [i.price FOR i IN sent_items], 'quantities': [i.quantity FOR i IN sent_items],
                  'value': sent_value} END AS sent_numbers
FROM judged
WHERE partition_date >= $start AND partition_date < $end
