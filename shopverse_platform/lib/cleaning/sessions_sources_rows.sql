-- Each partition's fingerprint as of this build (sessions_sources' rows), for the next one to find
-- what changed.
SELECT * FROM _sessions_sources_now
