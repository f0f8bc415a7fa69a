-- A stored training set in its written order (train first, then by entity).
SELECT * FROM {{training_set}} ORDER BY split DESC, entity_id
