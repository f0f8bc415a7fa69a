-- Rows per period of [$start, $end) in the checked table, the period being its column named $date_column
-- (a column name cannot be a parameter; COLUMNS picks the one column of that exact name).
SELECT period, count(*)
FROM (SELECT COLUMNS(lambda c: c = $date_column) AS period FROM {{checked}})
WHERE period >= $start AND period < $end
GROUP BY 1
