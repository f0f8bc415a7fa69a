-- Rows of the raw layer that did not make it into a clean table, with the reason why.
CREATE TABLE IF NOT EXISTS quarantine (
    source VARCHAR NOT NULL,          -- 'events' or 'orders'
    partition_date DATE NOT NULL,
    source_file VARCHAR,
    line_number INTEGER,
    reason_code VARCHAR NOT NULL,
    reason_detail VARCHAR,
    record_key VARCHAR,               -- event_id / invoice number when one could be read
    raw_line VARCHAR,
    raw_bytes BLOB                    -- the delivered bytes of a line that is not valid UTF-8
)
