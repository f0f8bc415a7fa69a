-- The report's period, [$start, $end), and the one before it, [$previous_start, $start): a row each,
-- (period, first_day, end_day), which the KPI totals join a table's rows of both to.
(VALUES ('current', $start::DATE, $end::DATE), ('previous', $previous_start::DATE, $start::DATE)) p(period, first_day, end_day)
