-- The period's sales KPIs from daily_sales, [$start, $end). Average order value is net: the
-- revenue of orders not fully cancelled over those orders; the gross figure is labelled apart.
SELECT
  (SELECT sum(net_revenue)::DOUBLE FROM daily_sales WHERE sales_date >= $start AND sales_date < $end) AS net_revenue,
  (SELECT sum(orders)::DOUBLE FROM daily_sales WHERE sales_date >= $start AND sales_date < $end) AS orders,
  (SELECT sum(aov_net_revenue)::DOUBLE / nullif(sum(aov_orders), 0) FROM daily_sales
     WHERE sales_date >= $start AND sales_date < $end) AS average_order_value,
  -- priced orders: gross_aov_orders, the orders priced in the reporting currency (data.py; on days
  -- built before that column, every order: the former denominator)
  (SELECT sum(gross_revenue)::DOUBLE / nullif(sum({{priced_orders}}), 0) FROM daily_sales
     WHERE sales_date >= $start AND sales_date < $end) AS gross_average_order_value,
  (SELECT sum(new_customers)::DOUBLE FROM daily_sales WHERE sales_date >= $start AND sales_date < $end) AS new_customers
