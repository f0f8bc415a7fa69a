-- Whether a table kept from clean_events was last brought up to date from it as it is now: the
-- fingerprints of the partitions it was built from ({{built_from}}: partition_date, "rows",
-- fingerprint) are those clean_events' writers keep now, every one.
SELECT count(*) = 0
FROM (SELECT partition_date, "rows", fingerprint FROM partition_fingerprints WHERE table_name = 'clean_events') f
FULL OUTER JOIN ({{built_from}}) s USING (partition_date)
WHERE f."rows" IS DISTINCT FROM s."rows" OR f.fingerprint IS DISTINCT FROM s.fingerprint
