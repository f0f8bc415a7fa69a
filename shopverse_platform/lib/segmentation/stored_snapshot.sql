-- The stored snapshots of the weeks starting in [$first, $end), as a temp table the movements compare.
CREATE OR REPLACE TEMP TABLE {{snapshot}} AS
SELECT * FROM segment_snapshots WHERE week_start >= $first AND week_start < $end
