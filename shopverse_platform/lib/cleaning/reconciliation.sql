-- Raw, clean, quarantined and duplicate rows of one source for [start, end): raw must equal the
-- sum of the other three. $duplicate_reason: the quarantine reason of a re-delivery.
SELECT ({{raw_rows}}),
       (SELECT count(*) FROM {{clean}} WHERE partition_date >= $start AND partition_date < $end),
       (SELECT count(*) FROM quarantine WHERE source = $source AND partition_date >= $start AND partition_date < $end
            AND reason_code <> $duplicate_reason),
       (SELECT count(*) FROM quarantine WHERE source = $source AND partition_date >= $start AND partition_date < $end
            AND reason_code = $duplicate_reason)
