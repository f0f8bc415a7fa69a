-- The fingerprints of this build of the dimension ($dimension), for the next one to find what changed.
INSERT INTO dimension_sources SELECT $dimension, source, partition_date, "rows", fingerprint FROM _dimension_sources_now
