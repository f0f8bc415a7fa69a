-- A fingerprint of each partition of the two clean tables as they are now, over the columns the
-- dimensions read: the row count and an order-independent hash (bit_xor), so any change to a day's
-- clean rows changes it. One scan of each table, a group per day.
CREATE OR REPLACE TEMP TABLE _dimension_sources_now AS
SELECT 'clean_events' AS source, partition_date, count(*) AS "rows",
       bit_xor(hash(event_id, user_id, event_ts, country, items)) AS fingerprint
FROM {{events}}
GROUP BY partition_date
UNION ALL
SELECT 'clean_order_lines', partition_date, count(*),
       bit_xor(hash(source_file, line_number, stock_code, description, unit_price, line_type, is_cancellation,
                    customer_id, invoice_ts, country))
FROM {{lines}}
GROUP BY partition_date
