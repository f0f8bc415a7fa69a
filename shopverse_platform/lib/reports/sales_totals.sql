-- The sales KPIs from daily_sales of the report's period, [$start, $end), and of the one before it,
-- [$previous_start, $start): a row each, in one read of the table (on a DuckLake every read of a
-- table pays its catalog queries). Average order value is net: the revenue of orders not fully
-- cancelled over those orders; the gross figure is labelled apart.
SELECT p.period,
       sum(d.net_revenue)::DOUBLE AS net_revenue,
       sum(d.orders)::DOUBLE AS orders,
       sum(d.aov_net_revenue)::DOUBLE / nullif(sum(d.aov_orders), 0) AS average_order_value,
       -- priced orders: gross_aov_orders, the orders priced in the reporting currency (data.py; on
       -- days built before that column, every order: the former denominator)
       sum(d.gross_revenue)::DOUBLE / nullif(sum({{priced_orders}}), 0) AS gross_average_order_value,
       sum(d.new_customers)::DOUBLE AS new_customers
FROM ({{periods}}) p
LEFT JOIN (SELECT * FROM daily_sales WHERE sales_date >= $previous_start AND sales_date < $end) d
  ON d.sales_date >= p.first_day AND d.sales_date < p.end_day
GROUP BY p.period
