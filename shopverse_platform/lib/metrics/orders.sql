-- One row per sales document, from its lines. A document is in one currency; a reporting-currency
-- amount is NULL when its sales lines' amount is (no exchange rate: never a silent 0, order_lines'
-- check reports them), and original_net_amount keeps what it is worth in its own currency.
SELECT min(order_date) AS order_date, min(order_ts) AS order_ts, source, document_id,
       any_value(document_type) AS document_type,
       CASE WHEN any_value(document_type) = 'order' THEN document_id
            WHEN count(DISTINCT order_id) = 1 THEN min(order_id) END AS order_id,
       list_sort(list(DISTINCT order_id) FILTER (WHERE order_id IS NOT NULL)) AS credited_order_ids,
       any_value(customer_id) AS customer_id, bool_and(is_guest) AS is_guest, any_value(anonymous_id) AS anonymous_id,
       any_value(session_id) AS session_id, any_value(device) AS device, any_value(country) AS country,
       count(*) AS lines,
       count(*) FILTER (WHERE is_product) AS product_lines,
       CAST(coalesce(sum(abs(quantity)) FILTER (WHERE is_product), 0) AS BIGINT) AS units,
       count(DISTINCT product_id) FILTER (WHERE is_product) AS products,
       CAST(CASE WHEN NOT coalesce(bool_or(is_sales AND gross_amount IS NULL), false)
                 THEN coalesce(sum(gross_amount) FILTER (WHERE is_sales), 0) END AS DECIMAL(18,2)) AS gross_amount,
       CAST(CASE WHEN NOT coalesce(bool_or(is_sales AND credited_amount IS NULL), false)
                 THEN coalesce(sum(credited_amount) FILTER (WHERE is_sales), 0) END AS DECIMAL(18,2)) AS credited_amount,
       CAST(CASE WHEN NOT coalesce(bool_or(is_sales AND net_amount IS NULL), false)
                 THEN coalesce(sum(net_amount) FILTER (WHERE is_sales), 0) END AS DECIMAL(18,2)) AS net_amount,
       CAST(coalesce(sum(net_amount) FILTER (WHERE NOT is_sales), 0) AS DECIMAL(18,2)) AS other_amount,
       bool_or(in_order) AS is_order,
       any_value(document_type) <> 'order' AND coalesce(sum(coalesce(credited_amount, -original_amount)) FILTER (WHERE is_sales), 0) > 0 AS is_credit,
       any_value(currency) AS currency, any_value(exchange_rate) AS exchange_rate,
       CAST(coalesce(sum(original_amount) FILTER (WHERE is_sales), 0) AS DECIMAL(18,2)) AS original_net_amount
FROM order_lines
WHERE order_date >= $start AND order_date < $end
GROUP BY source, document_id
