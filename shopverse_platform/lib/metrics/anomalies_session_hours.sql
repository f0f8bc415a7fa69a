-- Sessions started per UTC hour, over the sessions spliced in (session_stats.sql): the shape of session_hours
-- (lib/cleaning/session_hours_full.sql), for a warehouse whose sessions' build has not made it yet.
SELECT date_trunc('hour', session_start) AS hour_ts, count(*) AS sessions,
       count(*) FILTER (WHERE NOT is_bot) AS human_sessions
FROM {{sessions}}
GROUP BY ALL
