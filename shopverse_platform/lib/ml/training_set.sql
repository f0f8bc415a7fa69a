-- Both splits of a training set, ordered for stable digests (train first, then by entity).
SELECT * FROM (SELECT * FROM _split_train UNION ALL BY NAME SELECT * FROM _split_validation)
ORDER BY split DESC, entity_id
