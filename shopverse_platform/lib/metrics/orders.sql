-- One row per sales document, from its lines.
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
       CAST(coalesce(sum(gross_amount) FILTER (WHERE is_sales), 0) AS DECIMAL(18,2)) AS gross_amount,
       CAST(coalesce(sum(credited_amount) FILTER (WHERE is_sales), 0) AS DECIMAL(18,2)) AS credited_amount,
       CAST(coalesce(sum(net_amount) FILTER (WHERE is_sales), 0) AS DECIMAL(18,2)) AS net_amount,
       CAST(coalesce(sum(net_amount) FILTER (WHERE NOT is_sales), 0) AS DECIMAL(18,2)) AS other_amount,
       bool_or(in_order) AS is_order,
       any_value(document_type) <> 'order' AND coalesce(sum(credited_amount) FILTER (WHERE is_sales), 0) > 0 AS is_credit
FROM order_lines
WHERE order_date >= $start AND order_date < $end
GROUP BY source, document_id
