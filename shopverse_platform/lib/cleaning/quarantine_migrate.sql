-- Warehouses created before quarantine kept the bytes of invalid UTF-8 lines gain the column.
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS raw_bytes BLOB
