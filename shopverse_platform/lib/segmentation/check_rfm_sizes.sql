-- Customers per RFM segment, largest first.
SELECT rfm_segment, count(*) FROM rfm_segments GROUP BY 1 ORDER BY 2 DESC
