-- Whole-history sessions with their events per minute, length and the bot rule, over the sessions of
-- sessions_from_table.sql or sessions_from_events.sql.
SELECT *, {{events_per_minute}} AS epm,
       date_diff('millisecond', session_start, session_end) / 1000.0 AS seconds,
       {{bot_rule}} AS is_bot
FROM ({{sessions}})
