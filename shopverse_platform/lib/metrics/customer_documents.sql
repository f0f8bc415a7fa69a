-- Condition on an `orders` row: the documents of customer_metrics, identified customers' orders and
-- credits. The table and the check of its revenue both filter with this text.
(customer_id IS NOT NULL AND (is_order OR is_credit))
