-- Each partition's fingerprint as of this build, for the next one to find what changed.
CREATE OR REPLACE TABLE sessions_sources AS SELECT * FROM _sessions_sources_now
