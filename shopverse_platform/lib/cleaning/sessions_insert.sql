-- The affected sessions re-aggregated over all their events (sessions.sql over them).
INSERT INTO sessions BY NAME {{sessions}}
