-- The export lines whose partition lies in [start, end), verbatim as text. The partition of a
-- line is its invoice day (the fragment invoice_day.sql); a line whose InvoiceDate
-- cannot be parsed goes to the earliest invoice day of its file, so cleaning can quarantine it.
WITH dated AS (SELECT *, {{invoice_day}} AS invoice_day FROM _order_exports)
SELECT coalesce(invoice_day, min(invoice_day) OVER (PARTITION BY source_file)) AS partition_date,
       source_file, line_number,
       InvoiceNo AS invoice_no, StockCode AS stock_code, Description AS description,
       Quantity AS quantity, InvoiceDate AS invoice_date, UnitPrice AS unit_price,
       CustomerID AS customer_id, Country AS country
FROM dated
QUALIFY partition_date >= $start AND partition_date < $end
