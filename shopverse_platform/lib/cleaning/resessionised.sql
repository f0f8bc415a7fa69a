-- Stored rows of the day whose session id is no longer the one a rebuild of the day gives.
CREATE OR REPLACE TEMP TABLE _resessionised AS
SELECT event_id, session_id FROM _session_ids WHERE parsed_row IS NULL AND session_id <> stored_session_id
