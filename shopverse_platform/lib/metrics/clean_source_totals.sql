-- The same figures as order_lines_source_totals.sql, from the clean tables: the window's export lines
-- and their amount, its first purchase per transaction (none earlier) and its refund events.
-- "None earlier" looks at the whole history: there it reads every purchase ever, narrow
-- (purchase_observations when current, sources.py purchase_events), not clean_events, whose columns
-- it needs were most of the check's memory (0.23 GB of blocks at 9.7 M events).
WITH window_transactions AS (
    SELECT DISTINCT coalesce(transaction_id, event_id) AS transaction_key FROM {{events}}
    WHERE event_name = 'purchase' AND event_date >= $start AND event_date < $end
)
SELECT (SELECT count(*) FROM {{exports}} WHERE invoice_date >= $start AND invoice_date < $end),
       (SELECT sum(line_amount) FROM {{exports}} WHERE invoice_date >= $start AND invoice_date < $end),
       (SELECT count(*) FROM window_transactions
         WHERE transaction_key NOT IN (
             SELECT coalesce(transaction_id, event_id) FROM {{purchases}} WHERE event_date < $start)),
       (SELECT count(*) FROM {{events}} WHERE event_name = 'refund' AND event_date >= $start AND event_date < $end)
