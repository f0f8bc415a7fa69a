-- Re-deliveries among the valid parsed events: a later line of the same event_id in these days
-- (the first delivery by landing day, file and line wins), or an event_id already clean from an
-- earlier landing day since $history. Their verbatim lines are fetched for the quarantine.
CREATE OR REPLACE TEMP TABLE _duplicate_lines AS
WITH valid AS (
    SELECT rowid AS parsed_row, event_id, partition_date, source_file, line_number
    FROM _parsed_events WHERE reason_code IS NULL
),
repeated AS (
    SELECT parsed_row, partition_date, source_file, line_number FROM valid
    WHERE event_id IN (SELECT event_id FROM valid GROUP BY event_id HAVING count(*) > 1)
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY partition_date, source_file, line_number) > 1
),
seen_before AS (
    SELECT parsed_row, partition_date, source_file, line_number FROM valid
    WHERE event_id IN (SELECT event_id FROM clean_events WHERE partition_date >= $history AND partition_date < $start)
)
SELECT d.*, l.raw_line
FROM (SELECT * FROM repeated UNION SELECT * FROM seen_before) d
JOIN _landed_lines l USING (partition_date, source_file, line_number)
