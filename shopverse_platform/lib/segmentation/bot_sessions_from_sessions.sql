-- The bot sessions of recent_visitor_state.sql when sessions is current (sessions_current.sql): a
-- session that ended before $before was judged there on all of its events, all before $before; one
-- still going on at $before (the state of a past day) is judged on its observations before $before.
-- No read of the lookback's or the history's session ids: the bots are few.
SELECT session_id FROM sessions WHERE is_bot AND session_end < $before
UNION ALL
SELECT session_id FROM {{activity}}
WHERE event_date < $before AND session_id IN (SELECT session_id FROM sessions WHERE session_end >= $before)
GROUP BY session_id HAVING {{bot_rule}}
