-- The last weekly segment snapshot whose week ends before $end.
SELECT max(week_start) FROM segment_snapshots WHERE week_start + 6 < $end
