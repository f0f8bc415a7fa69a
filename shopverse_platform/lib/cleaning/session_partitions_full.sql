-- After a full rebuild of sessions: the partitions each session has events in.
CREATE OR REPLACE TABLE session_partitions AS SELECT DISTINCT session_id, partition_date FROM {{events}}
