-- The landing files of [start, end) that raw_events registered as not read (unreadable, not an
-- event file, a link out of the landing zone): one quarantine record each, naming the file, with
-- the reason and detail the raw layer gave. No line number, event or raw line: nothing was read.
CREATE OR REPLACE TEMP TABLE _rejected_files AS
SELECT 'events' AS source, partition_date, source_file, CAST(NULL AS INTEGER) AS line_number,
       rejected_reason AS reason_code, rejected_detail AS reason_detail,
       CAST(NULL AS VARCHAR) AS record_key, CAST(NULL AS VARCHAR) AS raw_line
FROM raw_events
WHERE partition_date >= $start AND partition_date < $end AND rejected_reason IS NOT NULL
