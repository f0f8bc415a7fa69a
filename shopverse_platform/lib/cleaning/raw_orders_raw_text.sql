-- raw_orders of a warehouse from before lines could be malformed: see raw_orders_read_error.sql.
ALTER TABLE raw_orders ADD COLUMN IF NOT EXISTS raw_text VARCHAR
