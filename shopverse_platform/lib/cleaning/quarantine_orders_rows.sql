-- The rejected order lines of _typed_orders, as quarantine rows; a value outside its domain is
-- named with its text. raw_line: the line's verbatim fields from raw_orders as JSON (a line there
-- is one source_file and line_number), or the text of a line or file that could not be split
-- (as text: a CASE with JSON would parse it as JSON).
WITH rejected AS (SELECT * FROM _typed_orders WHERE reason_code IS NOT NULL)
SELECT 'orders' AS source, t.partition_date, t.source_file, t.line_number, t.reason_code,
       CASE t.reason_code
           WHEN 'schema_violation' THEN 'unparseable or missing invoice, stock code, quantity, date or price'
           WHEN 'invalid_price' THEN 'negative unit price on a product line'
           WHEN 'duplicate_line' THEN 'exact repeat of an earlier line'
           WHEN 'bad_invoice_date' THEN 'InvoiceDate ' || coalesce('''' || t.invoice_date_text || '''', 'missing')
               || ' is in none of the layouts YYYY-MM-DD HH:MM:SS, YYYY-MM-DD HH:MM, M/D/YYYY H:MM'
           WHEN 'quantity_out_of_domain' THEN 'Quantity ''' || t.quantity_text
               || ''' is not a whole number from -999999 to 999999 other than 0'
           WHEN 'price_out_of_domain' THEN 'UnitPrice ''' || t.unit_price_text
               || ''' is not a decimal of at most 3 decimals below 1e9 in magnitude'
           ELSE t.read_error  -- malformed_line, unreadable_export: the reader's error
       END AS reason_detail,
       t.invoice_no AS record_key,
       CASE WHEN t.read_error IS NOT NULL THEN t.raw_text
            ELSE CAST(to_json({InvoiceNo: r.invoice_no, StockCode: r.stock_code, Description: r.description,
                               Quantity: r.quantity, InvoiceDate: r.invoice_date, UnitPrice: r.unit_price,
                               CustomerID: r.customer_id, Country: r.country}) AS VARCHAR) END AS raw_line
-- joined on the rejected lines' days: DuckDB pushes their range into the scan of raw_orders
FROM rejected t LEFT JOIN raw_orders r
  ON r.partition_date = t.partition_date AND r.source_file = t.source_file AND r.line_number = t.line_number
