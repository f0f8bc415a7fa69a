-- The reporting currency the period's money figures are in: that of the latest order lines built up to
-- the period's end (a period without a sale of its own reads the one before it); NULL without any.
-- An aggregate, one scan: ORDER BY order_date DESC LIMIT 1 read the table twice (DuckDB fetches the
-- top row's columns in a second scan), 24 against 12 ms on a DuckLake.
SELECT arg_max(reporting_currency, order_date) FROM order_lines
WHERE order_date < $end AND reporting_currency IS NOT NULL
