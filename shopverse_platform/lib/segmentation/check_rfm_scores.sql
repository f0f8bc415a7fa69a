-- RFM rows with a score outside 1-5, and rows whose segment is not one of $segments (rfm.RFM_SEGMENTS).
SELECT count(*) FILTER (WHERE NOT (r_score BETWEEN 1 AND 5 AND f_score BETWEEN 1 AND 5 AND m_score BETWEEN 1 AND 5)),
       count(*) FILTER (WHERE rfm_segment IS NULL OR rfm_segment NOT IN (SELECT unnest($segments)))
FROM rfm_segments
