-- Rows seen on or after their cutoff, rows first seen in their label window, rows with an unknown date.
SELECT count(*) FILTER (WHERE last_seen_date >= cutoff_date), count(*) FILTER (WHERE first_seen_date >= cutoff_date),
       count(*) FILTER (WHERE first_seen_date IS NULL OR last_seen_date IS NULL)
FROM {{training_set}}
