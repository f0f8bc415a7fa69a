-- The currency of most revenue over the whole clean history: purchase items (each purchase's items
-- summed, purchase_events.sql) and non-cancellation export lines (in $export_currency), each currency
-- summed in its own units; the code sorts ties.
WITH sales AS (
    SELECT coalesce(currency, $default_currency) AS currency, items_amount AS amount FROM {{purchases}}
    UNION ALL
    SELECT $export_currency, line_amount FROM {{exports}} WHERE NOT is_cancellation
)
SELECT currency FROM sales
WHERE currency IS NOT NULL
GROUP BY currency
HAVING sum(amount) > 0
ORDER BY sum(amount) DESC, currency
LIMIT 1
