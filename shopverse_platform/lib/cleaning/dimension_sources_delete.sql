-- The fingerprints of the dimension's ($dimension) previous build, replaced by this build's.
DELETE FROM dimension_sources WHERE dimension = $dimension
