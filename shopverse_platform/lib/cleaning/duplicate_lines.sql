-- Re-deliveries among the valid parsed events: a later line of the same event_id in these days
-- (the first delivery by landing day, file and line wins), or an event_id already clean on another
-- landing day, before the window since $history or after it until $history_end. An event clean on
-- a later day is kept there: a late file on an earlier day re-delivering it is the duplicate (the
-- window's rows are all this run may replace, and the check used to look backwards only, so the
-- copy was committed twice). Their verbatim lines are fetched for the quarantine.
-- [$replaced_start, $replaced_end): the days whose clean rows this run replaces, so not "elsewhere"
-- (the window); a run appending new files to a day already cleaned replaces nothing (an empty
-- range): the day's clean rows come from files that sort before the new ones, so they are the
-- first deliveries, exactly as in a rebuild of the whole day.
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
                       WHERE partition_date >= $history AND partition_date < $history_end
                         AND NOT (partition_date >= $replaced_start AND partition_date < $replaced_end))
)
SELECT d.*, coalesce(l.source_line, l.raw_line) AS raw_line  -- an import: the record as sent
FROM (SELECT * FROM repeated UNION SELECT * FROM seen_elsewhere) d
JOIN _landed_lines l USING (partition_date, source_file, line_number)
