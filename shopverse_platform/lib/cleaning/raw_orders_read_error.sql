-- raw_orders of a warehouse from before lines could be unreadable: the column cleaning reads,
-- NULL (read) on every old row, until raw_orders adds it itself on its next run.
ALTER TABLE raw_orders ADD COLUMN IF NOT EXISTS read_error VARCHAR
