-- The clean order lines of _typed_orders. Each cancellation is linked to the latest earlier
-- invoice of the same customer with the same stock code, in the window or earlier (the
-- export carries no reference, so this is the standard as-of match), when there is one;
-- at equal times, the higher invoice number.
SELECT o.invoice_no, o.invoice_ts, CAST(o.invoice_ts AS DATE) AS invoice_date,
       o.stock_code, o.description, o.quantity, o.unit_price,
       CAST(o.quantity * o.unit_price AS DECIMAL(18, 2)) AS line_amount,
       o.customer_id, o.customer_id IS NULL AS is_guest, o.country, o.line_type,
       o.is_cancellation, l.original_invoice_no,
       o.partition_date, o.source_file, o.line_number
FROM (SELECT * FROM _typed_orders WHERE reason_code IS NULL) o
LEFT JOIN (
    SELECT c.source_file, c.line_number, s.invoice_no AS original_invoice_no
    FROM (SELECT * FROM _typed_orders WHERE reason_code IS NULL AND is_cancellation) c
    ASOF JOIN (
        -- Two invoices of one customer and stock code at the same second would be an arbitrary,
        -- thread-dependent as-of match (1 of 536,641 UCI lines flipped between identical builds):
        -- the higher invoice number, the later-issued document, is taken.
        SELECT customer_id, stock_code, invoice_ts, max(invoice_no) AS invoice_no
        FROM (
            SELECT invoice_no, invoice_ts, customer_id, stock_code FROM _typed_orders
            WHERE reason_code IS NULL AND NOT is_cancellation AND customer_id IS NOT NULL
            UNION ALL ({{history}})
        )
        GROUP BY customer_id, stock_code, invoice_ts
    ) s
        ON c.customer_id = s.customer_id AND c.stock_code = s.stock_code AND c.invoice_ts >= s.invoice_ts
) l USING (source_file, line_number)
