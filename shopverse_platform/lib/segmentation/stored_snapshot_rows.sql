-- How many snapshot rows the week starting $week has stored (0: compute it instead).
SELECT count(*) FROM segment_snapshots WHERE week_start = $week
