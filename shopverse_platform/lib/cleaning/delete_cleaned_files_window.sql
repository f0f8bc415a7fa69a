-- The cleaned-file records of the window [start, end), before the window is cleaned again whole.
DELETE FROM cleaned_landing_files WHERE partition_date >= $start AND partition_date < $end
