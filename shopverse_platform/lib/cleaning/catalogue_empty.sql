-- No catalogue file: an empty catalogue of the same shape.
SELECT NULL::VARCHAR AS product_id, NULL::VARCHAR AS product_name, NULL::VARCHAR AS category, NULL::DOUBLE AS list_price WHERE false
