-- Whether the shop had sent any event before $end: a day of daily_traffic with a session (an
-- orders-only shop's daily_traffic holds a row of 0 sessions for every day).
SELECT EXISTS (SELECT 1 FROM daily_traffic WHERE traffic_date < $end AND sessions > 0)
