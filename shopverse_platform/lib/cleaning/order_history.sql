-- Earlier customer sales kept clean before $start, which a cancellation in the window may reverse.
SELECT invoice_no, invoice_ts, customer_id, stock_code FROM clean_order_lines
WHERE partition_date < $start AND NOT is_cancellation AND customer_id IS NOT NULL
