-- The weeks a temp table of snapshots holds (a week not there is computed instead).
SELECT DISTINCT week_start FROM {{snapshot}}
