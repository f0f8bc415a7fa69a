-- Session ids for valid events the tracker sent without one: a new session starts after
-- $session_timeout_minutes of inactivity per device. The id hashes the device and the session's
-- first event, so reruns give the same ids; a session continuing from the day before $start
-- (platform sessions whose events lie within the timeout of it) keeps that day's id.
CREATE OR REPLACE TEMP TABLE _sessionised AS
WITH needs AS (
    -- rowid: the row of _parsed_events, a cheaper join key than the event_id string
    SELECT rowid AS parsed_row, event_id, anonymous_id, event_ts, NULL::VARCHAR AS context_session_id
    FROM _parsed_events WHERE reason_code IS NULL AND tracker_session_id IS NULL
    UNION ALL (SELECT NULL::BIGINT, event_id, anonymous_id, event_ts, session_id AS context_session_id FROM clean_events
        WHERE partition_date < $start AND session_source = 'platform'
          AND event_ts >= CAST($start AS TIMESTAMP) - INTERVAL ($session_timeout_minutes) MINUTE)
),
{{session_rule}}
SELECT n.parsed_row, f.session_id FROM numbered n JOIN firsts f USING (anonymous_id, session_seq)
WHERE n.context_session_id IS NULL
