-- The window's fact by source: export lines and their amount (as exported, before any conversion),
-- event orders and event refunds.
SELECT count(*) FILTER (WHERE source = 'order_export'), sum(original_amount) FILTER (WHERE source = 'order_export'),
       count(DISTINCT document_id) FILTER (WHERE source = 'events' AND document_type = 'order'),
       count(DISTINCT document_id) FILTER (WHERE source = 'events' AND document_type = 'refund')
FROM order_lines WHERE order_date >= $start AND order_date < $end
