-- Whether sessions was built from clean_events as it is now: the fingerprints of the partitions it
-- was last built from (sessions_sources) are those clean_events' writers keep now, every one.
SELECT count(*) = 0
FROM (SELECT partition_date, "rows", fingerprint FROM partition_fingerprints WHERE table_name = 'clean_events') f
FULL OUTER JOIN sessions_sources s USING (partition_date)
WHERE f."rows" IS DISTINCT FROM s.events OR f.fingerprint IS DISTINCT FROM s.fingerprint
