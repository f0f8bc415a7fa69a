-- Visitors seen in the lookback before $before: first/last seen day and the features named in
-- $features (specs.VISITOR_FEATURES, in visitor_state.sql's column order), as DOUBLE.
SELECT visitor_id AS entity_id, first_seen_date, last_seen_date,
       CAST(COLUMNS(lambda c: list_contains($features, c)) AS DOUBLE)
FROM ({{visitor_state}})
