-- How each export was decoded ('utf8', 'latin-1' as the fallback, 'unread'): added to registers
-- created before the column existed; their rows hold NULL until the export is read again.
ALTER TABLE order_export_files ADD COLUMN IF NOT EXISTS encoding VARCHAR
