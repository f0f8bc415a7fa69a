-- Intent rows whose level is not one of $levels (intent.INTENT_LEVELS).
SELECT count(*) FROM intent_segments WHERE intent_segment IS NULL OR intent_segment NOT IN (SELECT unnest($levels))
