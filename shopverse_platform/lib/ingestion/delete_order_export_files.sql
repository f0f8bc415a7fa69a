-- The records of the exports just read, before they are replaced.
DELETE FROM order_export_files WHERE source_file IN (SELECT source_file FROM _export_fingerprints)
