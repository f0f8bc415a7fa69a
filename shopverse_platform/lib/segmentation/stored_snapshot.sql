-- The stored snapshot of the week starting $week, as a temp table the movements compare.
CREATE OR REPLACE TEMP TABLE {{snapshot}} AS SELECT * FROM segment_snapshots WHERE week_start = $week
