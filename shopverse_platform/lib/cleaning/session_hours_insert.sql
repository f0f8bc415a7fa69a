-- The moved hours' new counts; an hour left without a session gets no row.
INSERT INTO session_hours
SELECT hour_ts, CAST(sessions AS BIGINT), CAST(human_sessions AS BIGINT) FROM _session_hours_moved WHERE sessions > 0 ORDER BY hour_ts
