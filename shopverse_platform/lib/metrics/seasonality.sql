-- One row per hour-of-week slot and per month over the whole history (UTC, bot sessions left out).
WITH bots AS (SELECT session_id FROM {{sessions}} WHERE is_bot),  -- scripted sessions are not shoppers
ev AS (SELECT e.event_ts AS ts FROM {{events}} e ANTI JOIN bots USING (session_id)),
credits AS (  -- what every cancellation and refund gave back on each order, whenever it came
    SELECT source, order_id, sum(credited_amount) AS credited FROM order_lines
    WHERE is_sales AND document_type <> 'order' AND order_id IS NOT NULL GROUP BY ALL
),
sales AS (  -- kept_amount: an order net of its credits, in the order's slot (the peak by revenue)
    SELECT o.order_ts AS ts, o.gross_amount, o.net_amount, o.is_order,
           CASE WHEN o.is_order THEN greatest(o.gross_amount - coalesce(c.credited, 0), 0) ELSE 0 END AS kept_amount
    FROM orders o LEFT JOIN credits c ON o.is_order AND c.source = o.source AND c.order_id = o.document_id
    WHERE {{documents}}  -- revenue_documents.sql: the check of net_revenue reads the same documents
),
span AS (
    SELECT CAST(min(ts) AS DATE) AS first_day, CAST(max(ts) AS DATE) AS last_day
    FROM (SELECT ts FROM ev UNION ALL SELECT ts FROM sales)
),
calendar AS (
    SELECT CAST(range AS DATE) AS day FROM span, range(CAST(first_day AS TIMESTAMP), CAST(last_day AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY)
),
slots AS (
    SELECT 'hour_of_week' AS grain, CAST(isodow(day) - 1 AS INTEGER) AS weekday, CAST(h.range AS INTEGER) AS hour,
           NULL::INTEGER AS month, count(*) AS days_observed
    FROM calendar CROSS JOIN range(24) h GROUP BY ALL
    UNION ALL
    SELECT 'month', NULL, NULL, CAST(month(day) AS INTEGER), count(*) FROM calendar GROUP BY ALL
),
facts AS (
    SELECT ts, 1 AS events, 0 AS orders, 0 AS gross_amount, 0 AS net_amount, 0 AS kept_amount FROM ev
    UNION ALL
    SELECT ts, 0, CASE WHEN is_order THEN 1 ELSE 0 END, gross_amount, net_amount, kept_amount FROM sales
),
measured AS (
    SELECT 'hour_of_week' AS grain, CAST(isodow(ts) - 1 AS INTEGER) AS weekday, CAST(hour(ts) AS INTEGER) AS hour,
           NULL::INTEGER AS month, sum(events) AS events, sum(orders) AS orders, sum(gross_amount) AS gross_revenue,
           sum(net_amount) AS net_revenue, sum(kept_amount) AS kept_revenue
    FROM facts GROUP BY ALL
    UNION ALL
    SELECT 'month', NULL, NULL, CAST(month(ts) AS INTEGER), sum(events), sum(orders), sum(gross_amount), sum(net_amount),
           sum(kept_amount)
    FROM facts GROUP BY ALL
),
joined AS (
    SELECT s.grain, s.weekday, s.hour, s.month, s.days_observed,
           CAST(coalesce(m.events, 0) AS BIGINT) AS events, CAST(coalesce(m.orders, 0) AS BIGINT) AS orders,
           CAST(coalesce(m.gross_revenue, 0) AS DECIMAL(18,2)) AS gross_revenue,
           CAST(coalesce(m.net_revenue, 0) AS DECIMAL(18,2)) AS net_revenue,
           CAST(coalesce(m.kept_revenue, 0) AS DOUBLE) AS kept_revenue
    FROM slots s LEFT JOIN measured m
      ON m.grain = s.grain AND m.weekday IS NOT DISTINCT FROM s.weekday AND m.hour IS NOT DISTINCT FROM s.hour
     AND m.month IS NOT DISTINCT FROM s.month
),
rated AS (
    SELECT *,
           CASE WHEN grain = 'month' THEN $months[month]
                ELSE $weekdays[weekday + 1] || ' ' || lpad(CAST(hour AS VARCHAR), 2, '0') || ':00-'
                     || lpad(CAST(hour + 1 AS VARCHAR), 2, '0') || ':00 UTC' END AS slot,
           events / days_observed AS events_per_day,
           CAST(gross_revenue AS DOUBLE) / days_observed AS gross_revenue_per_day,
           events / nullif(sum(events) OVER (PARTITION BY grain), 0) AS share_of_events,
           CAST(gross_revenue AS DOUBLE) / nullif(sum(gross_revenue) OVER (PARTITION BY grain), 0) AS share_of_revenue
    FROM joined
)
SELECT grain, slot, weekday, hour, month, days_observed, events, orders, gross_revenue, net_revenue,
       events_per_day, gross_revenue_per_day, share_of_events, share_of_revenue,
       events > 0 AND row_number() OVER (PARTITION BY grain ORDER BY events_per_day DESC, weekday, hour, month) = 1
           AS is_peak_events,
       -- by what the slot's orders kept after their cancellations and refunds: a cancelled order sets no peak
       kept_revenue > 0 AND row_number() OVER (PARTITION BY grain ORDER BY kept_revenue / days_observed DESC, weekday, hour, month) = 1
           AS is_peak_revenue
FROM rated
ORDER BY grain, weekday, hour, month
