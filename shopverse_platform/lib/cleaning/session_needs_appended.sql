-- sessionised.sql for lines appended to a day already cleaned. A new event can start, extend, or
-- bridge two platform sessions of its device already stored for the day, so the devices of the new
-- events without a tracker session_id are sessionised again over all their events of the day (the
-- stored ones and the new ones), with the same context from the day before $start and the same
-- rule: the ids are those a rebuild of the whole day gives. _sessionised: the new rows' ids;
-- _resessionised: stored rows of the day whose id is no longer the one a rebuild gives.
CREATE OR REPLACE TEMP TABLE _session_needs AS
WITH devices AS (
    SELECT DISTINCT anonymous_id FROM _parsed_events WHERE reason_code IS NULL AND tracker_session_id IS NULL
)
SELECT rowid AS parsed_row, event_id, anonymous_id, event_ts, NULL::VARCHAR AS context_session_id,
       NULL::VARCHAR AS stored_session_id
FROM _parsed_events WHERE reason_code IS NULL AND tracker_session_id IS NULL
UNION ALL (SELECT NULL::BIGINT, event_id, anonymous_id, event_ts, NULL::VARCHAR, session_id FROM clean_events
    WHERE partition_date >= $start AND partition_date < $end AND session_source = 'platform'
      AND anonymous_id IN (SELECT anonymous_id FROM devices))
UNION ALL (SELECT NULL::BIGINT, event_id, anonymous_id, event_ts, session_id, NULL::VARCHAR FROM clean_events
    WHERE partition_date < $start AND session_source = 'platform'
      AND event_ts >= CAST($start AS TIMESTAMP) - INTERVAL ($session_timeout_minutes) MINUTE
      AND anonymous_id IN (SELECT anonymous_id FROM devices))
