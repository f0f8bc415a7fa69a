-- Partitions whose fingerprint differs from the last build's: new, changed or removed.
CREATE OR REPLACE TEMP TABLE _sessions_changed_days AS
SELECT coalesce(n.partition_date, o.partition_date) AS partition_date
FROM _sessions_sources_now n FULL OUTER JOIN sessions_sources o USING (partition_date)
WHERE n.events IS DISTINCT FROM o.events OR n.fingerprint IS DISTINCT FROM o.fingerprint
