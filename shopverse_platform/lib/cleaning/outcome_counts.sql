-- Rows of a cleaning step's work table by outcome: the reason code, or 'clean' for a kept row.
SELECT coalesce(reason_code, 'clean'), count(*) FROM {{outcome}} GROUP BY ALL
