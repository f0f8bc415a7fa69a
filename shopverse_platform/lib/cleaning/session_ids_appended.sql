-- Platform sessions over _session_needs (sessionised_appended.sql tells why): the rule and ids of
-- sessionised.sql, for the new rows and the stored rows of the day of the same devices.
CREATE OR REPLACE TEMP TABLE _session_ids AS
WITH gaps AS (
    SELECT *, CASE WHEN lag(event_ts) OVER w IS NULL
                     OR event_ts - lag(event_ts) OVER w > INTERVAL ($session_timeout_minutes) MINUTE
                   THEN 1 ELSE 0 END AS starts_session
    FROM _session_needs WINDOW w AS (PARTITION BY anonymous_id ORDER BY event_ts, event_id)
),
numbered AS (
    SELECT *, sum(starts_session) OVER (PARTITION BY anonymous_id ORDER BY event_ts, event_id
                                        ROWS UNBOUNDED PRECEDING) AS session_seq
    FROM gaps
),
firsts AS (
    SELECT anonymous_id, session_seq,
           arg_min(coalesce(context_session_id,
                            'sv-' || substr(md5(anonymous_id || '|' || event_id), 1, 20)),
                   (event_ts, event_id)) AS session_id
    FROM numbered GROUP BY ALL
)
SELECT n.parsed_row, n.event_id, n.stored_session_id, f.session_id
FROM numbered n JOIN firsts f USING (anonymous_id, session_seq)
WHERE n.context_session_id IS NULL
