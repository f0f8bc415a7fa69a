-- No export recorded yet (order_export_files is written by raw_orders): files rank by name.
SELECT NULL::VARCHAR AS source_file, NULL::BIGINT AS modified_ns WHERE false
