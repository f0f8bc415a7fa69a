-- The valid parsed events, with their session (the tracker's, else the platform's from _sessionised).
INSERT INTO clean_events BY NAME
SELECT p.event_id, p.event_name, p.event_ts, CAST(p.event_ts AS DATE) AS event_date,
       p.user_id, p.anonymous_id,
       coalesce(p.tracker_session_id, s.session_id) AS session_id,
       CASE WHEN p.tracker_session_id IS NULL THEN 'platform' ELSE 'tracker' END AS session_source,
       p.page, p.referrer, p.utm_source, p.utm_medium, p.utm_campaign,
       p.search_term, lower(p.device) AS device, upper(p.country) AS country,
       p.items, p.value, upper(trim(coalesce(p.currency, 'GBP'))) AS currency,  -- ISO codes are upper case
       p.transaction_id, p.is_legacy,
       p.partition_date, p.source_file, p.line_number
FROM _parsed_events p LEFT JOIN _sessionised s ON p.rowid = s.parsed_row
WHERE p.reason_code IS NULL
