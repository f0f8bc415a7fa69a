-- The bot sessions of recent_visitor_state.sql without a current sessions table: each session seen
-- in the lookback or holding a purchase judged on all of its observations before $before (it may
-- have begun before the lookback), a semi-join over every observation's session id.
SELECT session_id FROM {{activity}}
WHERE event_date < $before
  AND session_id IN (SELECT session_id FROM ev UNION SELECT session_id FROM all_purchases)
GROUP BY session_id HAVING {{bot_rule}}
