-- Sessions started per weekday (0 = Monday) and hour over [$start, $end).
SELECT CAST(isodow(traffic_date) - 1 AS INTEGER) AS weekday, h.hour AS hour,
       sum(h.sessions_started)::DOUBLE AS sessions
FROM (SELECT traffic_date, unnest(activity_by_hour) AS h FROM daily_traffic
      WHERE traffic_date >= $start AND traffic_date < $end)
GROUP BY ALL ORDER BY weekday, hour
