-- Whether observations read from clean_events ($dimension: their name in dimension_sources) were last
-- brought up to date from clean_events as it is now: the fingerprints of every partition they were
-- read from are those clean_events' writers keep now.
SELECT count(*) = 0
FROM (SELECT partition_date, "rows", fingerprint FROM partition_fingerprints WHERE table_name = 'clean_events') f
FULL OUTER JOIN (SELECT partition_date, "rows", fingerprint FROM dimension_sources
                 WHERE dimension = $dimension AND source = 'clean_events') s USING (partition_date)
WHERE f."rows" IS DISTINCT FROM s."rows" OR f.fingerprint IS DISTINCT FROM s.fingerprint
