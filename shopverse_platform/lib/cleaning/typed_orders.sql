-- The raw order-export lines of [start, end) typed, classified and judged: a NULL reason_code
-- (clean), the rule a line breaks, or duplicate_line for an exact repeat of an earlier line (every
-- column equal, in the same or another export; the first delivery by day, file and line wins).
-- $non_product_codes and $non_product_kinds: stock codes that are not goods and what each is,
-- in the same order (event_schema.NON_PRODUCT_STOCK_CODES).
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
           to_json({InvoiceNo: invoice_no, StockCode: stock_code, Description: description,
                    Quantity: quantity, InvoiceDate: invoice_date, UnitPrice: unit_price,
                    CustomerID: customer_id, Country: country}) AS raw_line
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
        WHEN invoice_no IS NULL OR invoice_no = '' OR stock_code IS NULL OR quantity IS NULL
             OR invoice_ts IS NULL OR unit_price IS NULL THEN 'schema_violation'
        WHEN unit_price < 0 AND line_type = 'product' THEN 'invalid_price'
        END AS reason_code
    FROM classified
),
ranked AS (
    SELECT *, CASE WHEN reason_code IS NULL THEN row_number() OVER (
        PARTITION BY reason_code IS NULL, invoice_no, stock_code, description, quantity, invoice_ts,
                     unit_price, customer_id, country
        ORDER BY partition_date, source_file, line_number) END AS delivery_rank
    FROM judged
)
SELECT * REPLACE (CASE WHEN reason_code IS NULL AND delivery_rank > 1 THEN 'duplicate_line'
                       ELSE reason_code END AS reason_code)
FROM ranked
