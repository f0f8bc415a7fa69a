-- session_hours over every session: the running aggregate the hourly traffic anomalies read instead
-- of the sessions (lib/metrics/anomalies.py); its rows are session_hours_rows.sql's.
CREATE OR REPLACE TABLE session_hours AS {{rows}}
