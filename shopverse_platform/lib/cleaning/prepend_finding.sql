-- A finding put first among a day's input-quality findings for events (what to do about the day).
UPDATE input_quality SET findings = list_prepend($finding, coalesce(findings, []))
WHERE source = 'events' AND partition_date = $day AND NOT list_contains(coalesce(findings, []), $finding)
