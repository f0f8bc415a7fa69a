SELECT source_file, size_bytes, modified_ns, first_day, last_day FROM order_export_files
