-- The re-deliveries found in _duplicate_lines become duplicate_event, with their verbatim line.
UPDATE _parsed_events p SET reason_code = 'duplicate_event', raw_line = d.raw_line
FROM _duplicate_lines d WHERE p.rowid = d.parsed_row
