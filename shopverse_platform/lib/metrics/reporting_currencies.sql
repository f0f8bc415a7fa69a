-- The reporting currencies the whole fact was built under: more than one means some days were built
-- under another setting (or another currency of most revenue) and need a rebuild.
SELECT DISTINCT reporting_currency FROM order_lines WHERE reporting_currency IS NOT NULL ORDER BY 1
