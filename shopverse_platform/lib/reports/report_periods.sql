-- The report's period, [$start, $end), and the one before it, [$previous_start, $start): a row each,
-- which the KPI totals join a table's rows of both to.
SELECT * FROM (VALUES ('current', $start::DATE, $end::DATE), ('previous', $previous_start::DATE, $start::DATE)) p(period, first_day, end_day)
