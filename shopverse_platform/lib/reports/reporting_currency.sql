-- The reporting currency the period's money figures are in: that of the latest order lines built up to
-- the period's end (a period without a sale of its own reads the one before it).
SELECT reporting_currency FROM order_lines
WHERE order_date < $end AND reporting_currency IS NOT NULL
ORDER BY order_date DESC
LIMIT 1
