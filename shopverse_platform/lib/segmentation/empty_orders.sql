-- The orders fact's shape with no rows: the segments and features read it before the metric layer has run.
SELECT NULL::DATE AS order_date, NULL::VARCHAR AS source, NULL::VARCHAR AS document_id,
    NULL::VARCHAR AS customer_id, NULL::BIGINT AS units, NULL::BIGINT AS products,
    NULL::DECIMAL(18,2) AS gross_amount, NULL::DECIMAL(18,2) AS credited_amount, NULL::DECIMAL(18,2) AS net_amount,
    NULL::BOOLEAN AS is_order, NULL::BOOLEAN AS is_credit WHERE false
