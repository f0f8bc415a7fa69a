-- Which registered landing files clean_events has cleaned, with the fingerprint and the rules it
-- cleaned them with: what lets a re-run of a day that only grew clean just its new files.
CREATE TABLE IF NOT EXISTS cleaned_landing_files (
    partition_date DATE, source_file VARCHAR, size_bytes BIGINT, modified_ns BIGINT, rejected_reason VARCHAR,
    future_tolerance_hours INTEGER, max_lateness_days INTEGER
)
