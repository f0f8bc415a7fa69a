-- Every purchase event, narrow: the columns of purchase_observations its readers use (the same
-- items_amount expression as lib/cleaning/purchase_observations.sql), read from clean_events when
-- those observations are not current.
SELECT event_id, event_ts, event_date, transaction_id, currency,
       list_sum(list_transform(items, lambda item: item.price * coalesce(item.quantity, 1))) AS items_amount
FROM {{events}} WHERE event_name = 'purchase'
