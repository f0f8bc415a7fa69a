-- The days of week [$start, $end) the data covers (the sales feed may start after the Monday or end
-- before the Sunday), with net revenue and orders of those days and of the same weekdays of the
-- week before. daily_sales is read once (a row a day; on a DuckLake each read of a table pays its
-- catalog queries).
WITH sales AS MATERIALIZED (SELECT sales_date, orders, net_revenue FROM daily_sales),
span AS (SELECT min(sales_date) AS lo, max(sales_date) AS hi FROM sales WHERE orders > 0),
covered AS (SELECT greatest(CAST($start AS DATE), lo) AS first_day,
                   least(CAST($end AS DATE) - 1, hi) AS last_day FROM span)
SELECT first_day, last_day,
       (SELECT sum(net_revenue) FROM sales WHERE sales_date BETWEEN first_day AND last_day)::DOUBLE AS net_revenue,
       (SELECT sum(orders) FROM sales WHERE sales_date BETWEEN first_day AND last_day)::DOUBLE AS orders,
       (SELECT sum(net_revenue) FROM sales
         WHERE sales_date BETWEEN first_day - 7 AND last_day - 7)::DOUBLE AS previous_net_revenue,
       (SELECT sum(orders) FROM sales
         WHERE sales_date BETWEEN first_day - 7 AND last_day - 7)::DOUBLE AS previous_orders
FROM covered
