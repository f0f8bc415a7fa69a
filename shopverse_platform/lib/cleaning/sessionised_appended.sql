-- The new rows' session ids (see session_needs_appended.sql), the shape insert_clean_events.sql joins.
CREATE OR REPLACE TEMP TABLE _sessionised AS
SELECT parsed_row, session_id FROM _session_ids WHERE parsed_row IS NOT NULL
