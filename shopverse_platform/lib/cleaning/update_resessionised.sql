-- Stored platform sessions of the day the appended events changed (sessionised_appended.sql).
UPDATE clean_events c SET session_id = r.session_id
FROM _resessionised r
WHERE c.partition_date >= $start AND c.partition_date < $end AND c.event_id = r.event_id
