-- The rows of a features or split query, by entity, for a stable frame.
SELECT * FROM ({{query}}) ORDER BY entity_id
