-- The product catalogue of the landing zone ($catalogue_file, a CSV), as text then typed.
SELECT CAST(product_id AS VARCHAR) AS product_id, product_name, category, CAST(price AS DOUBLE) AS list_price
FROM read_csv($catalogue_file, header = true, all_varchar = true)
