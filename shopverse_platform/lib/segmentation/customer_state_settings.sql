-- The order source customer_state.sql reads (NULL: all). Its callers bind only $before, so the
-- source is bound here, into a connection variable, when the query text is made.
SET VARIABLE segmentation_customer_state = {'order_source': CAST($order_source AS VARCHAR)}
