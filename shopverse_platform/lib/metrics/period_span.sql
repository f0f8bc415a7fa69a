-- First and last day of the checked table's column named $date_column, and how many distinct days it holds.
SELECT min(period), max(period), count(DISTINCT period)
FROM (SELECT COLUMNS(lambda c: c = $date_column) AS period FROM {{checked}})
