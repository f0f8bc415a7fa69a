-- Days of [$first, $last] absent from the checked table's column named $date_column (the first 20).
SELECT CAST(d AS DATE)
FROM range(CAST($first AS TIMESTAMP), CAST($last AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)
WHERE CAST(d AS DATE) NOT IN (SELECT COLUMNS(lambda c: c = $date_column) FROM {{checked}})
ORDER BY 1
LIMIT 20
