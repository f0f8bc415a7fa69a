-- Raw, clean, quarantined and duplicate rows of one source for [start, end): raw must equal the
-- sum of the other three. $duplicate_reason: the quarantine reason of a re-delivery.
SELECT ({{raw_rows}}),
       (SELECT count(*) FROM {{clean}} WHERE partition_date >= $start AND partition_date < $end),
       q.quarantined, q.duplicates
-- the source's quarantined rows of the window read once for both counts (on a DuckLake each read of
-- a table pays its catalog queries)
FROM (SELECT count(*) FILTER (WHERE reason_code <> $duplicate_reason) AS quarantined,
             count(*) FILTER (WHERE reason_code = $duplicate_reason) AS duplicates
      FROM quarantine WHERE source = $source AND partition_date >= $start AND partition_date < $end) q
