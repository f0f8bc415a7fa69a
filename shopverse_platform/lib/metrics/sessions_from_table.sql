SELECT session_id, session_start, session_end, session_date, events,
       anonymous_id AS visitor_id, user_id
FROM {{sessions}}
