-- A record per export just read: its fingerprint taken before reading, how it was decoded, the
-- first and last day its lines went to (invoice days; the modification day when it has none,
-- as raw_orders_rows.sql places them) and its lines (a file that could not be read: its record line).
INSERT INTO order_export_files BY NAME
SELECT f.source_file, f.size_bytes, f.modified_ns, f.encoding,
       coalesce(d.first_day, f.modified_day) AS first_day, coalesce(d.last_day, f.modified_day) AS last_day,
       coalesce(d.line_count, 0) AS line_count
FROM _export_fingerprints f LEFT JOIN (
    SELECT source_file, min({{invoice_day}}) AS first_day, max({{invoice_day}}) AS last_day,
           count(*) AS line_count
    FROM _order_exports GROUP BY source_file) d USING (source_file)
