-- A record per export just read: its fingerprint taken before reading, and its invoice days.
INSERT INTO order_export_files BY NAME
SELECT f.source_file, f.size_bytes, f.modified_ns, d.first_day, d.last_day, coalesce(d.line_count, 0) AS line_count
FROM _export_fingerprints f LEFT JOIN (
    SELECT source_file, min({{invoice_day}}) AS first_day, max({{invoice_day}}) AS last_day,
           count(*) AS line_count
    FROM _order_exports GROUP BY source_file) d USING (source_file)
