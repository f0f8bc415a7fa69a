-- The affected sessions re-aggregated over all their events (sessions.sql over them), kept for the
-- statements that add them to sessions, busy_sessions and session_hours.
CREATE OR REPLACE TEMP TABLE _sessions_recomputed AS {{sessions}}
