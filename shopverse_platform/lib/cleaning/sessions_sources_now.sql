-- A fingerprint of each landing partition of clean_events as it is now: its row count and an
-- order-independent hash (bit_xor) of every column sessions.sql reads, so any change to a day's
-- clean rows (re-cleaned, appended, session ids recomputed) changes it. One scan, a group per day.
CREATE OR REPLACE TEMP TABLE _sessions_sources_now AS
SELECT partition_date, count(*) AS events,
       bit_xor(hash(event_id, session_id, anonymous_id, user_id, event_ts, event_name, value, device,
                    country, utm_source, referrer, page)) AS fingerprint
FROM {{events}}
GROUP BY partition_date
