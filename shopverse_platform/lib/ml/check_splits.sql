-- Per split: how many cutoffs, the first cutoff and the last label end.
SELECT split, count(DISTINCT cutoff_date), min(cutoff_date), max(label_end_date) FROM {{training_set}} GROUP BY 1
