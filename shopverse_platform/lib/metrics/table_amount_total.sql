-- The sum of the checked table's column named $amount over the rows meeting the condition.
SELECT sum(COLUMNS(lambda c: c = $amount)) FROM {{checked}} WHERE {{condition}}
