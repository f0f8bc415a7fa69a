-- The last day with any event: the default "as of" of the visitor model.
SELECT max(event_date) FROM {{events}}
