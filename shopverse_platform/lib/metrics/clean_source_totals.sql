-- The same figures as order_lines_source_totals.sql, from the clean tables: the window's export lines
-- and their amount, its first purchase per transaction (none earlier) and its refund events.
-- "None earlier" looks at the whole history: there it reads every purchase ever, narrow
-- (purchase_observations when current, sources.py purchase_events), not clean_events, whose columns
-- it needs were most of the check's memory (0.23 GB of blocks at 9.7 M events). Each clean table's
-- window is read once (materialized), not once per figure: on a DuckLake every scan first reads the
-- table's files from the catalog.
WITH window_events AS MATERIALIZED (
    SELECT event_name, coalesce(transaction_id, event_id) AS transaction_key FROM {{events}}
    WHERE event_name IN ('purchase', 'refund') AND event_date >= $start AND event_date < $end
), window_exports AS MATERIALIZED (
    SELECT count(*) AS lines, sum(line_amount) AS amount FROM {{exports}}
    WHERE invoice_date >= $start AND invoice_date < $end
)
SELECT (SELECT lines FROM window_exports),
       (SELECT amount FROM window_exports),
       (SELECT count(*) FROM (SELECT DISTINCT transaction_key FROM window_events WHERE event_name = 'purchase')
         WHERE transaction_key NOT IN (
             SELECT coalesce(transaction_id, event_id) FROM {{purchases}} WHERE event_date < $start)),
       (SELECT count(*) FROM window_events WHERE event_name = 'refund')
