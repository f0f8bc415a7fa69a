-- The platform's session rule over the needs relation (parsed_row, event_id, anonymous_id, event_ts,
-- context_session_id, ...): a new session after $session_timeout_minutes of inactivity per device;
-- its id hashes the device and the session's first event, or continues the context's id (a session
-- running on from the day before). CTEs gaps, numbered and firsts, for sessionised.sql and
-- session_ids_appended.sql to select from.
gaps AS (
    SELECT *, CASE WHEN lag(event_ts) OVER w IS NULL
                     OR event_ts - lag(event_ts) OVER w > INTERVAL ($session_timeout_minutes) MINUTE
                   THEN 1 ELSE 0 END AS starts_session
    FROM {{needs}} WINDOW w AS (PARTITION BY anonymous_id ORDER BY event_ts, event_id)
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
