-- Customers with at least one order before $before: recency, frequency, monetary, their 1-5 scores
-- (1 + floor(5 x percent rank), capped at 5; ties share a score), the FM score and the named segment
-- from the grid of rfm_grid_settings.sql. Monetary is ranked as exact DECIMAL revenue.
WITH state AS (SELECT * FROM ({{customer_state}}) WHERE orders > 0),
scored AS (
    SELECT *,
           CAST(least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY recency_days DESC))) AS INTEGER) AS r_score,
           CAST(least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY orders))) AS INTEGER) AS f_score,
           CAST(least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY CAST(net_revenue AS DECIMAL(18,2))))) AS INTEGER) AS m_score
    FROM state
),
grid AS (SELECT unnest(getvariable('segmentation_rfm_grid'), recursive := true))
SELECT s.customer_id, CAST($before AS DATE) - 1 AS as_of_date,
       s.recency_days, s.orders AS frequency, CAST(s.net_revenue AS DECIMAL(18,2)) AS monetary,
       s.r_score, s.f_score, s.m_score, CAST(ceil((s.f_score + s.m_score) / 2) AS INTEGER) AS fm_score,
       CAST(s.r_score AS VARCHAR) || CAST(s.f_score AS VARCHAR) || CAST(s.m_score AS VARCHAR) AS rfm_code,
       g.rfm_segment, s.last_order_date
FROM scored s JOIN grid g ON g.r_score = s.r_score AND g.fm_score = CAST(ceil((s.f_score + s.m_score) / 2) AS INTEGER)
