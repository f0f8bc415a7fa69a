-- A dimension's observations of the partitions that changed, before they are read again.
DELETE FROM {{observations}} o
USING _dimension_changed_days c
WHERE o.source = c.source AND o.partition_date = c.partition_date
