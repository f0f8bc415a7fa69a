-- The window's sales lines without a reporting-currency amount (no rate within the allowed age), per
-- currency: lines, documents, their net amount in that currency and the days they fall on.
SELECT currency, count(*) AS lines, count(DISTINCT (source, document_id)) AS documents,
       sum(original_amount) AS net_amount, list(DISTINCT order_date ORDER BY order_date) AS days
FROM order_lines
WHERE order_date >= $start AND order_date < $end AND is_sales AND line_amount IS NULL
GROUP BY currency
ORDER BY currency
