-- The input-quality rows of one source for the days of [$start, $end) (every day, those without
-- input too: a feed that stopped is a finding), judged against the gates:
--   * rejected share (quarantined lines other than duplicates ÷ lines received), overall and per
--     reason, against $warn_share / $fail_share (a reason may have its own pair: $reason_names with
--     $reason_warn / $reason_fail); a failure needs at least $min_rejected rejected lines, so one bad
--     line in a three-line test day warns instead;
--   * a file that could not be read at all ($unreadable_reason: one quarantine row for the whole
--     file, however many lines it held): its lines are lost and how many is unknown, so it is never
--     judged by its one row; it warns, and fails where $unreadable_fails (order exports: one file
--     holds days of orders; an events folder holds many batches a day, and a day that lost most of
--     them is caught by the volume gate);
--   * volume: lines received against the median of the same weekday over the previous
--     $volume_weeks weeks (weekly rhythm: a shop closed on Saturdays is not a drop), judged only
--     when at least two of those weeks lie on or after the source's first day and the median is
--     above zero; outside [median ÷ $volume_factor, median × $volume_factor] is a warning.
-- Duplicates are re-deliveries, counted and shown, never a rejection.
WITH days AS (
    SELECT CAST(d AS DATE) AS partition_date FROM range($start, $end, INTERVAL 1 DAY) AS t(d)
),
raw_by_day AS ({{raw_by_day}}),
first_day AS ({{raw_first_day}}),
clean_by_day AS (
    SELECT partition_date, count(*) AS lines FROM {{clean}}
    WHERE partition_date >= $start AND partition_date < $end GROUP BY partition_date
),
rejected AS (
    SELECT partition_date, reason_code, count(*) AS lines FROM quarantine
    WHERE source = $source AND partition_date >= $start AND partition_date < $end
    GROUP BY partition_date, reason_code
),
by_reason AS (
    SELECT partition_date,
           sum(lines) FILTER (WHERE reason_code <> $duplicate_reason) AS rejected_lines,
           sum(lines) FILTER (WHERE reason_code = $duplicate_reason) AS duplicate_lines,
           sum(lines) FILTER (WHERE reason_code = $unreadable_reason) AS unreadable_files,
           map_from_entries(list((reason_code, lines) ORDER BY reason_code)
                            FILTER (WHERE reason_code <> $duplicate_reason)) AS rejected_by_reason,
           arg_max(reason_code, lines ORDER BY reason_code DESC) FILTER (WHERE reason_code <> $duplicate_reason) AS worst_reason,
           max(lines) FILTER (WHERE reason_code <> $duplicate_reason) AS worst_reason_lines,
           -- the reasons over their own failure / warning share, for the verdict
           list(reason_code ORDER BY reason_code) FILTER (WHERE reason_code <> $duplicate_reason) AS reasons,
           list(lines ORDER BY reason_code) FILTER (WHERE reason_code <> $duplicate_reason) AS reason_lines
    FROM rejected GROUP BY partition_date
),
history AS (
    SELECT d.partition_date,
           median(coalesce(r.lines, 0)) AS expected_lines,
           count(*) AS weeks_seen
    FROM days AS d
    CROSS JOIN range(1, $volume_weeks + 1) AS w(weeks_back)
    JOIN first_day AS f ON d.partition_date - CAST(7 * w.weeks_back AS INTEGER) >= f.first_day
    LEFT JOIN raw_by_day AS r ON r.partition_date = d.partition_date - CAST(7 * w.weeks_back AS INTEGER)
    GROUP BY d.partition_date
),
counted AS (
    SELECT d.partition_date,
           coalesce(r.lines, 0) AS lines_received,
           coalesce(c.lines, 0) AS lines_accepted,
           coalesce(b.rejected_lines, 0) AS lines_rejected,
           coalesce(b.duplicate_lines, 0) AS duplicates,
           coalesce(b.unreadable_files, 0) AS unreadable_files,
           coalesce(b.rejected_by_reason, MAP {}) AS rejected_by_reason,
           b.worst_reason, b.worst_reason_lines, b.reasons, b.reason_lines,
           CASE WHEN h.weeks_seen >= 2 THEN h.expected_lines END AS expected_lines
    FROM days AS d
    LEFT JOIN raw_by_day AS r USING (partition_date)
    LEFT JOIN clean_by_day AS c USING (partition_date)
    LEFT JOIN by_reason AS b USING (partition_date)
    LEFT JOIN history AS h USING (partition_date)
),
shares AS (
    SELECT *,
           CASE WHEN lines_received > 0 THEN lines_rejected / lines_received END AS rejected_share,
           CASE WHEN lines_received > 0 THEN worst_reason_lines / lines_received END AS worst_reason_share,
           CASE WHEN expected_lines > 0 THEN lines_received / expected_lines END AS volume_ratio,
           -- each reason's share with its own thresholds (a configured one, else the overall pair)
           [{'reason': reason,
             'share': reason_lines[i] / lines_received,
             'warn': coalesce(map($reason_names, $reason_warn)[reason], $warn_share),
             'fail': coalesce(map($reason_names, $reason_fail)[reason], $fail_share)}
            FOR reason, i IN coalesce(reasons, [])] AS reason_shares
    FROM counted
),
verdicts AS (
    SELECT *,
           list_filter(reason_shares, lambda r: r.share > r.fail) AS failing_reasons,
           list_filter(reason_shares, lambda r: r.share > r.warn AND r.share <= r.fail) AS warning_reasons,
           coalesce(rejected_share > $fail_share, false) AS over_fail,
           coalesce(rejected_share > $warn_share, false) AS over_warn,
           coalesce(volume_ratio < 1 / $volume_factor OR volume_ratio > $volume_factor, false) AS volume_off
    FROM shares
)
SELECT partition_date, $source AS source, lines_received, lines_accepted, lines_rejected, duplicates,
       rejected_share, rejected_by_reason, worst_reason, worst_reason_share, expected_lines, volume_ratio,
       CASE WHEN (over_fail OR len(failing_reasons) > 0) AND lines_rejected >= $min_rejected
                 OR (unreadable_files > 0 AND $unreadable_fails) THEN 'fail'
            WHEN over_warn OR len(failing_reasons) > 0 OR len(warning_reasons) > 0 OR volume_off
                 OR unreadable_files > 0 THEN 'warn'
            ELSE 'ok' END AS status,
       list_filter([
           CASE WHEN unreadable_files > 0 THEN
               printf('%d %s file(s) could not be read at all (%s): their lines are lost and how many is unknown',
                      unreadable_files, $source, $unreadable_reason) END,
           CASE WHEN over_fail OR over_warn THEN
               printf('%.1f%% of %,d %s lines rejected (threshold: warn above %.1f%%, fail above %.1f%%); most: %s (%,d)',
                      100 * rejected_share, lines_received, $source, 100 * $warn_share, 100 * $fail_share,
                      worst_reason, worst_reason_lines) END,
           CASE WHEN len(failing_reasons) > 0 OR len(warning_reasons) > 0 THEN
               'reasons over their threshold: ' || array_to_string(
                   [printf('%s %.1f%% (warn above %.1f%%, fail above %.1f%%)', r.reason, 100 * r.share,
                           100 * r.warn, 100 * r.fail)
                    FOR r IN list_concat(failing_reasons, warning_reasons)], '; ') END,
           CASE WHEN volume_off THEN
               printf('%,d %s lines received against %,.0f expected (median of the same weekday over the previous %d weeks): %s',
                      lines_received, $source, expected_lines, $volume_weeks,
                      CASE WHEN lines_received = 0 THEN 'nothing arrived'
                           WHEN volume_ratio < 1 THEN printf('%.2f× the usual: a drop', volume_ratio)
                           ELSE printf('%.2f× the usual: a spike', volume_ratio) END) END
       ], lambda f: f IS NOT NULL) AS findings
FROM verdicts
ORDER BY partition_date
