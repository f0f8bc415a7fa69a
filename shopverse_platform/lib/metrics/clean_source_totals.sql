-- The same figures as order_lines_source_totals.sql, from the clean tables: the window's export lines
-- and their amount, its first purchase per transaction (none earlier) and its refund events.
SELECT (SELECT count(*) FROM {{exports}} WHERE invoice_date >= $start AND invoice_date < $end),
       (SELECT sum(line_amount) FROM {{exports}} WHERE invoice_date >= $start AND invoice_date < $end),
       (SELECT count(DISTINCT coalesce(transaction_id, event_id)) FROM {{events}} p
         WHERE event_name = 'purchase' AND event_date >= $start AND event_date < $end
           AND coalesce(transaction_id, event_id) NOT IN (
               SELECT coalesce(transaction_id, event_id) FROM {{events}}
               WHERE event_name = 'purchase' AND event_date < $start)),
       (SELECT count(*) FROM {{events}} WHERE event_name = 'refund' AND event_date >= $start AND event_date < $end)
