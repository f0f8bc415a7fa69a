-- Condition on an `orders` row: the documents whose amounts make whole-history revenue. Orders and
-- credits, and any other document whose sales lines move money: postage given back on an invoice of
-- its own bills no order and gives no credit, yet lowers net revenue (daily_sales counts it too).
-- The seasonality table and the check of its revenue both filter with this text.
(is_order OR is_credit OR net_amount <> 0)
