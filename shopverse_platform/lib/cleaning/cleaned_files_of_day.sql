-- What clean_events cleaned of the window [start, end): file, fingerprint and rules.
SELECT source_file, size_bytes, modified_ns, rejected_reason, future_tolerance_hours, max_lateness_days
FROM cleaned_landing_files WHERE partition_date >= $start AND partition_date < $end
