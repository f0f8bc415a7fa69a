-- The raw order-export lines of [start, end) typed, classified and judged: a NULL reason_code
-- (clean), the rule a line breaks, or duplicate_line for an exact repeat of an earlier line (every
-- column equal, in the same or another export; the first delivery wins: by day, the file that
-- arrived first, file name and line).
-- $non_product_codes and $non_product_kinds: stock codes that are not goods and what each is,
-- in the same order (event_schema.NON_PRODUCT_STOCK_CODES).
-- Value domains (docs/events.md), checked on the text so nothing is coerced on the way in (a cast
-- would round "1.5" to 2 and "1.2345" to 1.235, and take "1e3", "NaN" or "inf"): Quantity a whole
-- number from -999999 to 999999 other than 0 (UCI: -80995..80995, no 0; negative on cancellations
-- and stock adjustments), UnitPrice a plain decimal with at most 3 decimals below 1e9 in magnitude
-- (UCI: -11062.06 "Adjust bad debt" to 38970, 3 decimals at most). So quantity x price stays below
-- 1e15 and fits line_amount's DECIMAL(18, 2). Text that is no number at all stays a schema_violation.
CREATE OR REPLACE TEMP TABLE _typed_orders AS
WITH typed AS (
    SELECT partition_date, source_file, line_number,
           trim(invoice_no) AS invoice_no, trim(stock_code) AS stock_code, trim(description) AS description,
           try_cast(quantity AS INTEGER) AS quantity,
           coalesce(try_strptime(invoice_date, '%Y-%m-%d %H:%M:%S'),
                    try_strptime(invoice_date, '%Y-%m-%d %H:%M'),
                    try_strptime(invoice_date, '%m/%d/%Y %H:%M')) AS invoice_ts,
           try_cast(unit_price AS DECIMAL(18, 3)) AS unit_price,
           nullif(regexp_replace(trim(customer_id), '\.0+$', ''), '') AS customer_id,
           trim(country) AS country,
           upper(trim(invoice_no)) LIKE 'C%' AS is_cancellation,
           trim(quantity) AS quantity_text, trim(unit_price) AS unit_price_text, invoice_date AS invoice_date_text,
           read_error,
           -- a malformed line or an unreadable file (read_error, lib/ingestion) has no fields, only
           -- its text; a line's verbatim fields are put together for the rejected ones only
           -- (quarantine_orders_rows.sql), not for every line
           raw_text
    FROM raw_orders WHERE partition_date >= $start AND partition_date < $end
),
classified AS (
    SELECT *, coalesce(MAP($non_product_codes, $non_product_kinds)[stock_code],
                       CASE WHEN lower(stock_code) LIKE 'gift\_%' ESCAPE '\' THEN 'gift_voucher'
                            WHEN NOT is_cancellation AND quantity < 0 THEN 'stock_adjustment'
                            ELSE 'product' END) AS line_type
    FROM typed
),
judged AS (
    SELECT *, CASE
        WHEN read_error IS NOT NULL AND line_number IS NULL THEN 'unreadable_export'
        WHEN read_error IS NOT NULL THEN 'malformed_line'
        WHEN invoice_no IS NULL OR invoice_no = '' OR stock_code IS NULL
             OR quantity_text IS NULL OR try_cast(quantity_text AS DOUBLE) IS NULL
             OR unit_price_text IS NULL OR try_cast(unit_price_text AS DOUBLE) IS NULL THEN 'schema_violation'
        WHEN invoice_ts IS NULL THEN 'bad_invoice_date'
        WHEN NOT regexp_full_match(quantity_text, '[+-]?[0-9]{1,6}') OR quantity = 0 THEN 'quantity_out_of_domain'
        WHEN NOT regexp_full_match(unit_price_text, '[+-]?([0-9]{1,9}(\.[0-9]{0,3})?|\.[0-9]{1,3})') THEN 'price_out_of_domain'
        WHEN unit_price < 0 AND line_type = 'product' THEN 'invalid_price'
        END AS reason_code
    FROM classified
),
ranked AS (
    -- the first delivery is the copy in the file that arrived first (its modification time when
    -- read: export_arrivals.sql), then by file name and line: a late copy whose name sorts first is
    -- the repeat
    SELECT j.*, CASE WHEN reason_code IS NULL THEN row_number() OVER (
        PARTITION BY reason_code IS NULL, invoice_no, stock_code, description, quantity, invoice_ts,
                     unit_price, customer_id, country
        ORDER BY partition_date, a.modified_ns NULLS LAST, source_file, line_number) END AS delivery_rank
    FROM judged j LEFT JOIN {{arrivals}} a USING (source_file)
)
SELECT * REPLACE (CASE WHEN reason_code IS NULL AND delivery_rank > 1 THEN 'duplicate_line'
                       ELSE reason_code END AS reason_code)
FROM ranked
