-- Partitions whose fingerprint differs from the one the dimension ($dimension) was last built
-- from: new, changed or gone. Every partition when the dimension has no stored fingerprints.
CREATE OR REPLACE TEMP TABLE _dimension_changed_days AS
SELECT coalesce(n.source, o.source) AS source, coalesce(n.partition_date, o.partition_date) AS partition_date
FROM _dimension_sources_now n
FULL OUTER JOIN (SELECT * FROM dimension_sources WHERE dimension = $dimension) o USING (source, partition_date)
WHERE n."rows" IS DISTINCT FROM o."rows" OR n.fingerprint IS DISTINCT FROM o.fingerprint
