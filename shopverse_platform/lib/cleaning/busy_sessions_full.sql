-- The sessions of at least $busy_min_events events: the population the events-per-minute anomalies
-- judge (bots and hyperactive sessions; every bot is one, bot_min_events >= busy_min_events), kept
-- beside sessions so the daily anomalies read it instead of every session (lib/metrics/anomalies.py).
CREATE OR REPLACE TABLE busy_sessions AS
SELECT session_id, anonymous_id, user_id, session_start, session_end, session_date, events
FROM sessions WHERE events >= $busy_min_events
