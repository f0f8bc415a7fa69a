-- One row per input source and day: what came in, what was accepted and rejected, and the verdict
-- of the input-quality gates (lib/cleaning/input_quality.py).
CREATE TABLE IF NOT EXISTS input_quality (
    partition_date DATE NOT NULL,
    source VARCHAR NOT NULL,
    lines_received BIGINT NOT NULL,
    lines_accepted BIGINT NOT NULL,
    lines_rejected BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    rejected_share DOUBLE,
    rejected_by_reason MAP(VARCHAR, BIGINT),
    worst_reason VARCHAR,
    worst_reason_share DOUBLE,
    expected_lines DOUBLE,
    volume_ratio DOUBLE,
    status VARCHAR NOT NULL,
    findings VARCHAR[]
)
