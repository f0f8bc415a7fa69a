-- When each order export arrived: its modification time when ingestion last read it
-- (order_export_files, written by raw_orders).
SELECT source_file, modified_ns FROM order_export_files
