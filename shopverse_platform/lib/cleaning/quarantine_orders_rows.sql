-- The rejected order lines of _typed_orders, as quarantine rows; a value outside its domain is
-- named with its text.
SELECT 'orders' AS source, partition_date, source_file, line_number, reason_code,
       CASE reason_code
           WHEN 'schema_violation' THEN 'unparseable or missing invoice, stock code, quantity, date or price'
           WHEN 'invalid_price' THEN 'negative unit price on a product line'
           WHEN 'duplicate_line' THEN 'exact repeat of an earlier line'
           WHEN 'bad_invoice_date' THEN 'InvoiceDate ' || coalesce('''' || invoice_date_text || '''', 'missing')
               || ' is in none of the layouts YYYY-MM-DD HH:MM:SS, YYYY-MM-DD HH:MM, M/D/YYYY H:MM'
           WHEN 'quantity_out_of_domain' THEN 'Quantity ''' || quantity_text
               || ''' is not a whole number from -999999 to 999999 other than 0'
           WHEN 'price_out_of_domain' THEN 'UnitPrice ''' || unit_price_text
               || ''' is not a decimal of at most 3 decimals below 1e9 in magnitude'
           ELSE read_error  -- malformed_line, unreadable_export: the reader's error
       END AS reason_detail,
       invoice_no AS record_key, raw_line
FROM _typed_orders WHERE reason_code IS NOT NULL
