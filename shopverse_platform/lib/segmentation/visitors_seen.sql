-- Whether the visitor observations hold any row: a shop whose event feed has sent nothing has none.
SELECT EXISTS (SELECT 1 FROM {{activity}})
