-- No earlier sales: clean_order_lines is not built yet. $start is named so that both histories
-- take the same parameters.
SELECT NULL::VARCHAR, NULL::TIMESTAMP, NULL::VARCHAR, NULL::VARCHAR WHERE CAST($start AS DATE) IS NULL
