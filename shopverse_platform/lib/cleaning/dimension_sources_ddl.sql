-- The fingerprints each dimension was last built from (see dimension_sources_now.sql).
CREATE TABLE IF NOT EXISTS dimension_sources (
    dimension VARCHAR, source VARCHAR, partition_date DATE, "rows" BIGINT, fingerprint UBIGINT
)
