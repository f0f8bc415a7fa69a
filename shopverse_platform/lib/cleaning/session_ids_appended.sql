-- Platform sessions over _session_needs (sessionised_appended.sql tells why): the rule and ids of
-- sessionised.sql, for the new rows and the stored rows of the day of the same devices.
CREATE OR REPLACE TEMP TABLE _session_ids AS
WITH {{session_rule}}
SELECT n.parsed_row, n.event_id, n.stored_session_id, f.session_id
FROM numbered n JOIN firsts f USING (anonymous_id, session_seq)
WHERE n.context_session_id IS NULL
