-- Churn label: 1 when the customer placed no order in the label window.
CASE WHEN coalesce(l.future_orders, 0) = 0 THEN 1.0 ELSE 0.0 END
