-- The export lines whose partition lies in [start, end), verbatim as text. The partition of a
-- line is its invoice day (the fragment invoice_day.sql); a line without one (an unparseable
-- InvoiceDate, a malformed line) goes to the earliest invoice day of its file, and when the file
-- has none (no line parses, or it could not be read: one record line), to the UTC day the file
-- was modified, so every line lands in one partition and cleaning can quarantine it.
WITH dated AS (
    SELECT *, {{invoice_day}} AS invoice_day FROM _order_exports
),
file_days AS (  -- each file's earliest invoice day: grouped, not a window over every wide line (at the
    -- UCI export's 542k lines a window partitioned by the one file took 0.4-0.8 s, this 0.01)
    SELECT source_file, min(invoice_day) AS first_invoice_day FROM dated GROUP BY source_file
)
SELECT coalesce(d.invoice_day, fd.first_invoice_day, f.modified_day) AS partition_date,
       source_file, line_number,
       InvoiceNo AS invoice_no, StockCode AS stock_code, Description AS description,
       Quantity AS quantity, InvoiceDate AS invoice_date, UnitPrice AS unit_price,
       CustomerID AS customer_id, Country AS country, read_error, raw_text
FROM dated d LEFT JOIN file_days fd USING (source_file) LEFT JOIN _export_fingerprints f USING (source_file)
WHERE partition_date >= $start AND partition_date < $end
