-- rejected_files.sql for the files appended to a day already cleaned: those sorting after $after.
CREATE OR REPLACE TEMP TABLE _rejected_files AS
SELECT 'events' AS source, partition_date, source_file, CAST(NULL AS INTEGER) AS line_number,
       rejected_reason AS reason_code, rejected_detail AS reason_detail,
       CAST(NULL AS VARCHAR) AS record_key, CAST(NULL AS VARCHAR) AS raw_line
FROM raw_events
WHERE partition_date >= $start AND partition_date < $end AND source_file > $after AND rejected_reason IS NOT NULL
