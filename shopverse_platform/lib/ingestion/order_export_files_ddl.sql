-- Each order export read: its fingerprint, first and last invoice day and line count.
CREATE TABLE IF NOT EXISTS order_export_files (
    source_file VARCHAR NOT NULL, size_bytes BIGINT NOT NULL, modified_ns BIGINT NOT NULL,
    first_day DATE, last_day DATE, line_count BIGINT NOT NULL
)
