-- Each order export read: its fingerprint, first and last partition day, line count and encoding.
CREATE TABLE IF NOT EXISTS order_export_files (
    source_file VARCHAR NOT NULL, size_bytes BIGINT NOT NULL, modified_ns BIGINT NOT NULL,
    first_day DATE, last_day DATE, line_count BIGINT NOT NULL, encoding VARCHAR
)
