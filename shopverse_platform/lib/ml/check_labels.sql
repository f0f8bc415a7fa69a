-- Per split: rows, positive labels, the label sum and negative labels.
SELECT split, count(*), count(*) FILTER (WHERE label > 0), sum(label), count(*) FILTER (WHERE label < 0)
FROM {{training_set}} GROUP BY 1
