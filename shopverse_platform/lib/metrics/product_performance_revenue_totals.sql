-- The window's product revenue and refunds summed over products.
SELECT sum(gross_revenue), sum(refunds) FROM product_performance WHERE product_date >= $start AND product_date < $end
