-- The rejected order lines of _typed_orders, as quarantine rows.
SELECT 'orders' AS source, partition_date, source_file, line_number, reason_code,
       CASE reason_code
           WHEN 'schema_violation' THEN 'unparseable or missing invoice, stock code, quantity, date or price'
           WHEN 'invalid_price' THEN 'negative unit price on a product line'
           WHEN 'duplicate_line' THEN 'exact repeat of an earlier line'
       END AS reason_detail,
       invoice_no AS record_key, raw_line
FROM _typed_orders WHERE reason_code IS NOT NULL
