-- The currency of most revenue over the whole clean history: purchase items and non-cancellation
-- export lines (in $export_currency), each currency summed in its own units; the code sorts ties.
WITH items AS (
    SELECT coalesce(currency, $default_currency) AS currency, unnest(items) AS item FROM {{events}} WHERE event_name = 'purchase'
),
sales AS (
    SELECT currency, item.price * coalesce(item.quantity, 1) AS amount FROM items
    UNION ALL
    SELECT $export_currency, line_amount FROM {{exports}} WHERE NOT is_cancellation
)
SELECT currency FROM sales
WHERE currency IS NOT NULL
GROUP BY currency
HAVING sum(amount) > 0
ORDER BY sum(amount) DESC, currency
LIMIT 1
