-- duplicate_lines.sql for lines appended to a day already cleaned (every new file sorts after the
-- day's cleaned ones): a new line is a re-delivery when its event_id comes earlier among the new
-- lines (by file and line), or is already clean on any landing day from $history to $history_end,
-- the day itself included: the day's clean rows come from files that sort before the new ones, so
-- they are the first deliveries, exactly as in a rebuild of the whole day.
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
seen_elsewhere AS (
    SELECT parsed_row, partition_date, source_file, line_number FROM valid
    WHERE event_id IN (SELECT event_id FROM clean_events
                       WHERE partition_date >= $history AND partition_date < $history_end)
)
SELECT d.*, coalesce(l.source_line, l.raw_line) AS raw_line  -- an import: the record as sent
FROM (SELECT * FROM repeated UNION SELECT * FROM seen_elsewhere) d
JOIN _landed_lines l USING (partition_date, source_file, line_number)
