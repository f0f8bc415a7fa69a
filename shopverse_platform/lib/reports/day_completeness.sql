-- When the data of day $day ends, against when the shop's days usually end: the median over the
-- previous 28 days with orders of each day's last document time (seconds after midnight, UTC).
WITH days AS (
    SELECT order_date, epoch(max(order_ts) - CAST(order_date AS TIMESTAMP)) AS ends_after
    FROM orders WHERE order_date >= $day - INTERVAL 28 DAY AND order_date <= $day
    GROUP BY order_date
)
SELECT (SELECT ends_after FROM days WHERE order_date = $day) AS ends_after,
       median(ends_after) FILTER (WHERE order_date < $day) AS usual_ends_after,
       count(*) FILTER (WHERE order_date < $day) AS days_seen
FROM days
