-- The product catalogue of the landing zone ($file, a CSV), as text then typed.
SELECT CAST(product_id AS VARCHAR) AS product_id, product_name, category, CAST(price AS DOUBLE) AS list_price
FROM read_csv($file, header = true, all_varchar = true)
