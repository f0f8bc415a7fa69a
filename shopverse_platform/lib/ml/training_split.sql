-- One split ($split) of a training set: the features as of the day before $before and the label
-- from [$before, $label_end); every entity of the features, with no label activity counting as none.
SELECT CAST($split AS VARCHAR) AS split, CAST($before AS DATE) AS cutoff_date, CAST($label_end AS DATE) AS label_end_date,
       f.*, {{label}} AS label
FROM ({{features}}) f
LEFT JOIN ({{labels}}) l USING (entity_id)
